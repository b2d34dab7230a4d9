"""Schedule triggers: slots, the Beat entry kept in sync, once-per-slot fires, misfires."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from celery.signals import beat_init
from django.db import transaction
from django.test import override_settings
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.factories import ExecutionFactory, WorkflowFactory
from workflows.models import AuditEntry, AutomationExecution, AutomationWorkflow
from workflows.schedules import (
    schedule_description,
    schedule_next_runs,
    schedule_slot,
    schedule_upcoming,
)
from workflows.services.schedules import (
    PASSED_OVER_LIMIT,
    periodic_task_name,
    schedule_fire,
    schedule_sync_all,
)
from workflows.services.workflows import (
    workflow_create,
    workflow_delete,
    workflow_set_active,
    workflow_update,
)

ACTIONS = [{"id": "t", "type": "transform", "params": {"values": {"x": 1}}}]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("cron", "now", "slot"),
    [
        ("* * * * *", "2026-11-26T12:34:56", "2026-11-26T12:34:00"),
        ("*/15 * * * *", "2026-11-26T12:34:56", "2026-11-26T12:30:00"),
        ("0 9 * * *", "2026-11-26T08:59:00", "2026-11-25T09:00:00"),
        ("30 9 * * 1", "2026-11-26T12:00:00", "2026-11-23T09:30:00"),  # the Monday before
        ("0 0 1 1 *", "2026-11-26T12:00:00", "2026-01-01T00:00:00"),
        ("0 0 29 2 *", "2026-11-26T12:00:00", "2024-02-29T00:00:00"),
    ],
)
def test_the_slot_is_the_latest_matching_minute(cron, now, slot):
    assert schedule_slot({"type": "schedule"}, cron, at(now)) == at(slot)


def test_a_cron_slot_follows_the_triggers_time_zone():
    trigger = {"type": "schedule", "timezone": "Europe/Berlin"}
    # 09:00 in Berlin is 08:00 UTC in November.
    assert schedule_slot(trigger, "0 9 * * *", at("2026-11-26T08:30:00")) == at(
        "2026-11-26T08:00:00"
    )


def test_an_interval_slot_without_start_at_counts_from_the_epoch():
    trigger = {"type": "schedule", "interval_s": 10}
    assert schedule_slot(trigger, "", at("2026-11-26T12:00:07")) == at("2026-11-26T12:00:00")


def test_an_interval_slot_counts_from_start_at():
    trigger = {"type": "schedule", "interval_s": 3600, "start_at": "2026-11-26T11:07:00+01:00"}
    assert schedule_slot(trigger, "", at("2026-11-26T12:30:00")) == at("2026-11-26T12:07:00")
    assert schedule_slot(trigger, "", at("2026-11-26T10:06:59")) is None  # before the start


@given(
    anchor_s=st.integers(min_value=0, max_value=2**33),
    interval=st.integers(min_value=1, max_value=7 * 86400),
    elapsed_s=st.integers(min_value=0, max_value=10**9),
)
def test_an_interval_slot_is_the_latest_start_plus_a_whole_number_of_intervals(
    anchor_s, interval, elapsed_s
):
    anchor = datetime.fromtimestamp(anchor_s, tz=UTC)
    now = anchor + timedelta(seconds=elapsed_s)
    trigger = {"type": "schedule", "interval_s": interval, "start_at": anchor.isoformat()}
    slot = schedule_slot(trigger, "", now)
    assert slot is not None and slot <= now < slot + timedelta(seconds=interval)
    assert (slot - anchor).total_seconds() % interval == 0


@pytest.mark.parametrize(
    ("cron", "now", "slot"),
    [
        # 02:30 does not exist on the spring-forward day: it falls an hour later, 03:30 CEST.
        ("30 2 * * *", "2026-03-29T01:29:00", "2026-03-28T01:30:00"),
        ("30 2 * * *", "2026-03-29T01:30:00", "2026-03-29T01:30:00"),
        # 02:15 happens twice on the fall-back day: the first (CEST) is the slot, once.
        ("15 * * * *", "2026-10-25T00:20:00", "2026-10-25T00:15:00"),
        ("15 * * * *", "2026-10-25T01:20:00", "2026-10-25T00:15:00"),
        ("15 * * * *", "2026-10-25T02:20:00", "2026-10-25T02:15:00"),
        # At 02:20 CET (the second 02:20) the latest slot is 02:50 CEST, a later wall time.
        ("10,50 2,3 * * *", "2026-10-25T01:20:00", "2026-10-25T00:50:00"),
    ],
)
def test_a_cron_slot_across_dst_is_each_wall_time_at_its_first_occurrence(cron, now, slot):
    trigger = {"type": "schedule", "timezone": "Europe/Berlin"}
    assert schedule_slot(trigger, cron, at(now)) == at(slot)


@pytest.mark.django_db
class TestTheBeatEntry:
    def create(self, **fields):
        data = {"name": "Every minute", "trigger": {"type": "schedule"}, "schedule": "* * * * *"}
        return workflow_create(data={**data, "actions": ACTIONS, **fields})

    def test_a_scheduled_workflow_owns_one_periodic_task(self):
        workflow = self.create(trigger={"type": "schedule", "timezone": "Europe/Paris"})
        task = PeriodicTask.objects.get(name=periodic_task_name(workflow.pk))
        assert task.task == "workflows.fire_schedule"
        assert task.args == f"[{workflow.pk}]"
        assert task.crontab.minute == "*" and str(task.crontab.timezone) == "Europe/Paris"

    def test_editing_the_cron_updates_the_same_task(self):
        workflow = self.create()
        workflow_update(workflow=workflow, data={"schedule": "*/5 * * * *"})
        tasks = PeriodicTask.objects.filter(name=periodic_task_name(workflow.pk))
        assert [task.crontab.minute for task in tasks] == ["*/5"]

    def test_deactivating_or_deleting_removes_the_task_and_tells_beat(self):
        workflow = self.create()
        before = PeriodicTasks.last_change()
        workflow_set_active(workflow=workflow, is_active=False)
        assert not PeriodicTask.objects.filter(name=periodic_task_name(workflow.pk)).exists()
        assert PeriodicTasks.last_change() != before
        workflow_set_active(workflow=workflow, is_active=True)
        assert PeriodicTask.objects.filter(name=periodic_task_name(workflow.pk)).exists()
        workflow_delete(workflow=workflow)
        assert not PeriodicTask.objects.filter(task="workflows.fire_schedule").exists()

    def test_switching_to_a_manual_trigger_removes_the_task(self):
        workflow = self.create()
        workflow_update(workflow=workflow, data={"trigger": {"type": "manual"}, "schedule": ""})
        assert not PeriodicTask.objects.filter(task="workflows.fire_schedule").exists()

    def test_an_interval_trigger_ticks_several_times_per_slot(self):
        workflow = self.create(trigger={"type": "schedule", "interval_s": 60}, schedule="")
        task = PeriodicTask.objects.get(name=periodic_task_name(workflow.pk))
        assert (task.interval.every, task.interval.period) == (15, "seconds")

    @pytest.mark.parametrize("interval", [3600, 86400])
    def test_a_long_interval_ticks_within_half_the_misfire_grace(self, settings, interval):
        settings.SCHEDULE_MISFIRE_GRACE_S = 300
        workflow = self.create(trigger={"type": "schedule", "interval_s": interval}, schedule="")
        task = PeriodicTask.objects.get(name=periodic_task_name(workflow.pk))
        assert (task.interval.every, task.interval.period) == (150, "seconds")

    def test_an_interval_trigger_is_anchored_when_it_is_set(self):
        with time_machine.travel(at("2026-11-26T12:07:30.250000"), tick=False):
            workflow = self.create(trigger={"type": "schedule", "interval_s": 3600}, schedule="")
        assert workflow.trigger["start_at"] == "2026-11-26T12:07:30+00:00"
        assert schedule_slot(workflow.trigger, "", at("2026-11-26T14:00:00")) == at(
            "2026-11-26T13:07:30"
        )

    def test_saving_the_same_interval_again_keeps_its_anchor_and_a_new_one_moves_it(self):
        with time_machine.travel(at("2026-11-26T12:07:00"), tick=False):
            workflow = self.create(trigger={"type": "schedule", "interval_s": 3600}, schedule="")
        with time_machine.travel(at("2026-11-26T15:00:00"), tick=False):
            trigger = {"type": "schedule", "interval_s": 3600, "timezone": "Europe/Paris"}
            workflow = workflow_update(workflow=workflow, data={"trigger": trigger})
            assert workflow.trigger["start_at"] == "2026-11-26T12:07:00+00:00"
            trigger = {"type": "schedule", "interval_s": 1800}
            workflow = workflow_update(workflow=workflow, data={"trigger": trigger})
            assert workflow.trigger["start_at"] == "2026-11-26T15:00:00+00:00"

    def test_a_given_start_at_is_kept_as_given(self):
        trigger = {"type": "schedule", "interval_s": 3600, "start_at": "2026-11-26T09:15:00+05:30"}
        workflow = self.create(trigger=trigger, schedule="")
        assert workflow.trigger == trigger

    def test_a_starting_beat_brings_entries_synced_by_an_older_release_in_line(self, settings):
        settings.SCHEDULE_MISFIRE_GRACE_S = 300
        workflow = self.create(trigger={"type": "schedule", "interval_s": 3600}, schedule="")
        task = PeriodicTask.objects.get(name=periodic_task_name(workflow.pk))
        task.interval = IntervalSchedule.objects.create(every=900, period="seconds")
        task.save()
        beat_init.send(sender=None)
        task.refresh_from_db()
        assert task.interval.every == 150

    def test_sync_all_repairs_bulk_changes(self):
        workflow = self.create()
        type(workflow).objects.filter(pk=workflow.pk).update(is_active=False)  # no service call
        assert schedule_sync_all() == 0
        assert not PeriodicTask.objects.filter(task="workflows.fire_schedule").exists()


@pytest.mark.django_db
class TestFiring:
    def test_a_second_fire_of_the_same_slot_starts_nothing(self):
        workflow = WorkflowFactory(trigger={"type": "schedule"}, schedule="* * * * *")
        now = at("2026-11-26T12:00:05")
        first = schedule_fire(workflow_id=workflow.pk, now=now)
        again = schedule_fire(workflow_id=workflow.pk, now=now + timedelta(seconds=20))
        assert first is not None and again is None
        assert first.scheduled_for == at("2026-11-26T12:00:00")
        assert first.trigger_payload == {"scheduled_for": "2026-11-26T12:00:00+00:00"}
        assert AutomationExecution.objects.count() == 1
        assert schedule_fire(workflow_id=workflow.pk, now=now + timedelta(minutes=1)) is not None

    def test_a_slot_missed_while_beat_was_down_is_skipped_and_recorded(self, settings, caplog):
        settings.SCHEDULE_MISFIRE_GRACE_S = 300
        workflow = WorkflowFactory(trigger={"type": "schedule"}, schedule="0 * * * *")
        with caplog.at_level(logging.WARNING, logger="workflows.services.schedules"):
            assert schedule_fire(workflow_id=workflow.pk, now=at("2026-11-26T12:10:00")) is None
        missed = AutomationExecution.objects.get()
        assert missed.status == "cancelled" and missed.started_at is None
        assert missed.scheduled_for == at("2026-11-26T12:00:00")
        assert missed.completed_at == at("2026-11-26T12:10:00")
        assert missed.trigger_payload == {
            "scheduled_for": "2026-11-26T12:00:00+00:00",
            "misfire": {
                "late_s": 600.0,
                "reason": "beat_late",
                "slots": 1,
                "first": "2026-11-26T12:00:00+00:00",
                "more": False,
            },
        }
        assert "skipped: Beat fired it 600 s late" in missed.error_message
        assert [record.levelname for record in caplog.records] == ["WARNING"]
        assert "600 s late" in caplog.records[0].getMessage()

    def test_a_recorded_misfire_is_never_run_or_recorded_again(self, settings):
        workflow = WorkflowFactory(trigger={"type": "schedule"}, schedule="0 * * * *")
        assert schedule_fire(workflow_id=workflow.pk, now=at("2026-11-26T12:10:00")) is None
        assert schedule_fire(workflow_id=workflow.pk, now=at("2026-11-26T12:10:00")) is None
        settings.SCHEDULE_CATCH_UP_LAST = True
        assert schedule_fire(workflow_id=workflow.pk, now=at("2026-11-26T12:20:00")) is None
        assert list(AutomationExecution.objects.values_list("status", flat=True)) == ["cancelled"]
        assert not workflow.executions.filter(started_at__isnull=False).exists()

    def test_catch_up_runs_the_latest_missed_slot_once(self, settings):
        settings.SCHEDULE_CATCH_UP_LAST = True
        workflow = WorkflowFactory(trigger={"type": "schedule"}, schedule="0 * * * *")
        late = schedule_fire(workflow_id=workflow.pk, now=at("2026-11-26T14:10:00"))
        assert late is not None and late.scheduled_for == at("2026-11-26T14:00:00")
        assert schedule_fire(workflow_id=workflow.pk, now=at("2026-11-26T14:11:00")) is None

    def test_an_inactive_workflow_does_not_fire(self):
        workflow = WorkflowFactory(
            trigger={"type": "schedule"}, schedule="* * * * *", is_active=False
        )
        assert schedule_fire(workflow_id=workflow.pk) is None


def test_the_next_runs_are_the_matching_minutes_after_now_in_the_zone():
    after = datetime(2026, 12, 4, 23, 50, tzinfo=UTC)  # Saturday 08:50 in Tokyo
    runs = schedule_next_runs(schedule="30 9 * * 1-5", timezone="Asia/Tokyo", after=after)
    assert [run.strftime("%a %d %H:%M") for run in runs] == [
        "Mon 07 09:30",
        "Tue 08 09:30",
        "Wed 09 09:30",
        "Thu 10 09:30",
        "Fri 11 09:30",
    ]
    assert runs[0].utcoffset() == timedelta(hours=9)


def test_the_next_runs_start_after_the_current_minute():
    after = datetime(2026, 1, 1, 10, 15, 30, tzinfo=UTC)
    runs = schedule_next_runs(schedule="*/15 * * * *", timezone="UTC", after=after, count=2)
    assert [run.strftime("%H:%M") for run in runs] == ["10:30", "10:45"]


@pytest.mark.django_db
class TestDuplicateBeatRows:
    """django-celery-beat's schedule tables allow equal rows; one must not break a save."""

    BASE = "/api/workflow-orchestration/workflows"

    def test_a_cron_workflow_is_created_and_edited_beside_a_duplicate_crontab_row(self, api):
        for _ in range(2):
            CrontabSchedule.objects.create(
                minute="0", hour="9", day_of_month="*", month_of_year="*", day_of_week="*"
            )
        body = {"name": "Daily", "trigger": {"type": "schedule"}, "actions": ACTIONS}
        created = api.post(self.BASE, {**body, "schedule": "0 9 * * *"}, format="json")
        assert created.status_code == 201, created.content
        task = PeriodicTask.objects.get(name=periodic_task_name(created.json()["id"]))
        assert task.crontab == CrontabSchedule.objects.order_by("pk").first()
        edited = api.put(
            f"{self.BASE}/{created.json()['id']}",
            {**body, "schedule": "0 9 * * *", "name": "D"},
            format="json",
        )
        assert edited.status_code == 200, edited.content

    def test_an_interval_workflow_is_created_and_edited_beside_a_duplicate_interval_row(self, api):
        for every in (150, 150, 15, 15):
            IntervalSchedule.objects.create(every=every, period=IntervalSchedule.SECONDS)
        body = {"name": "Hourly", "trigger": {"type": "schedule", "interval_s": 3600}}
        created = api.post(self.BASE, {**body, "actions": ACTIONS}, format="json")
        assert created.status_code == 201, created.content
        url = f"{self.BASE}/{created.json()['id']}"
        edited = api.patch(url, {"trigger": {"type": "schedule", "interval_s": 60}}, format="json")
        assert edited.status_code == 200, edited.content
        task = PeriodicTask.objects.get(name=periodic_task_name(created.json()["id"]))
        assert task.interval.every == 15
        assert IntervalSchedule.objects.count() == 4


@pytest.mark.django_db
class TestPause:
    def test_slots_before_the_pause_start_nothing_and_say_so_once_per_fire(self, caplog):
        workflow = WorkflowFactory(
            trigger={"type": "schedule"},
            schedule="0 * * * *",
            schedule_paused_until=at("2026-11-26T14:30:00"),
        )
        with caplog.at_level(logging.INFO, logger="workflows.services.schedules"):
            assert schedule_fire(workflow_id=workflow.pk, now=at("2026-11-26T12:00:05")) is None
        assert not AutomationExecution.objects.exists()
        assert [record.levelname for record in caplog.records] == ["INFO"]
        assert "paused until 2026-11-26T14:30:00+00:00" in caplog.records[0].getMessage()

    def test_after_the_pause_the_next_slot_fires_and_the_paused_ones_are_not_caught_up(
        self, settings
    ):
        settings.SCHEDULE_CATCH_UP_LAST = True
        workflow = WorkflowFactory(
            trigger={"type": "schedule"},
            schedule="0 * * * *",
            schedule_paused_until=at("2026-11-26T14:30:00"),
        )
        # Just after the pause ends, the latest slot (14:00) is a paused one: not run.
        assert schedule_fire(workflow_id=workflow.pk, now=at("2026-11-26T14:31:00")) is None
        fired = schedule_fire(workflow_id=workflow.pk, now=at("2026-11-26T15:00:02"))
        assert fired is not None and fired.scheduled_for == at("2026-11-26T15:00:00")
        assert AutomationExecution.objects.count() == 1

    def test_an_interval_slot_at_the_end_of_the_pause_fires(self):
        trigger = {"type": "schedule", "interval_s": 600, "start_at": "2026-11-26T12:00:00+00:00"}
        workflow = WorkflowFactory(
            trigger=trigger, schedule="", schedule_paused_until=at("2026-11-26T12:20:00")
        )
        assert schedule_fire(workflow_id=workflow.pk, now=at("2026-11-26T12:10:01")) is None
        fired = schedule_fire(workflow_id=workflow.pk, now=at("2026-11-26T12:20:01"))
        assert fired is not None and fired.scheduled_for == at("2026-11-26T12:20:00")


def interval_workflow(created: datetime, interval_s: int, **fields: object):
    """An interval workflow anchored at ``created``, as if made then (its last edit)."""
    with time_machine.travel(created, tick=False):
        return workflow_create(
            data={"name": "Every few seconds", "actions": ACTIONS, **fields,
                  "trigger": {"type": "schedule", "interval_s": interval_s}}
        )  # fmt: skip


def slots_of(workflow, status: str) -> list[datetime]:
    rows = workflow.executions.filter(status=status).order_by("scheduled_for")
    return list(rows.values_list("scheduled_for", flat=True))


@pytest.mark.django_db
class TestPassedOverSlots:
    """A slot no fire reached (Beat or the control lane stalled across it) is started late
    inside the grace, recorded as missed beyond it, and never passed over in silence."""

    def test_a_slot_with_no_fire_is_started_late_by_the_next_fire(self, caplog):
        start = at("2026-11-26T12:00:00")
        workflow = interval_workflow(start, 2)
        assert schedule_fire(workflow_id=workflow.pk, now=start + timedelta(seconds=0.5))
        with caplog.at_level(logging.WARNING, logger="workflows.services.schedules"):
            current = schedule_fire(workflow_id=workflow.pk, now=start + timedelta(seconds=6.5))
        assert current is not None and current.scheduled_for == start + timedelta(seconds=6)
        assert slots_of(workflow, "queued") == [start + timedelta(seconds=n) for n in (0, 2, 4, 6)]
        warned = [record.getMessage() for record in caplog.records]
        assert len(warned) == 2 and "12:00:02+00:00 had no fire" in warned[0]
        assert "started 4.5 s late" in warned[0] and "started 2.5 s late" in warned[1]

    def test_slots_passed_over_beyond_the_grace_are_recorded_once_as_one_miss(self, settings):
        settings.SCHEDULE_MISFIRE_GRACE_S = 300
        start = at("2026-11-26T12:00:00")
        workflow = WorkflowFactory(trigger={"type": "schedule"}, schedule="* * * * *")
        AutomationWorkflow.objects.filter(pk=workflow.pk).update(updated_at=start)
        assert schedule_fire(workflow_id=workflow.pk, now=start + timedelta(seconds=5))
        back = start + timedelta(minutes=10, seconds=30)  # 12:01 … 12:05 are over 300 s old
        assert schedule_fire(workflow_id=workflow.pk, now=back) is not None
        minute = timedelta(minutes=1)
        assert slots_of(workflow, "cancelled") == [start + 5 * minute]
        missed = workflow.executions.get(status="cancelled")
        assert missed.trigger_payload["misfire"] == {
            "late_s": 330.0, "reason": "beat_late", "slots": 5,
            "first": "2026-11-26T12:01:00+00:00", "more": False,
        }  # fmt: skip
        assert missed.error_message.startswith(
            "5 slots from 2026-11-26T12:01:00+00:00 to 2026-11-26T12:05:00+00:00 skipped"
        )
        queued = [start + n * minute for n in (0, 6, 7, 8, 9, 10)]
        assert slots_of(workflow, "queued") == queued
        assert schedule_fire(workflow_id=workflow.pk, now=back + timedelta(seconds=10)) is None
        assert workflow.executions.count() == len(queued) + 1

    def test_a_long_gap_is_counted_up_to_the_limit_and_said_to_be_longer(self, settings):
        settings.SCHEDULE_MISFIRE_GRACE_S = 1
        start = at("2026-11-26T12:00:00")
        workflow = interval_workflow(start, 1)
        assert schedule_fire(workflow_id=workflow.pk, now=start)
        fired = schedule_fire(workflow_id=workflow.pk, now=start + timedelta(seconds=5000.2))
        assert fired is not None
        missed = workflow.executions.get(status="cancelled")
        assert missed.trigger_payload["misfire"]["slots"] == PASSED_OVER_LIMIT
        assert missed.trigger_payload["misfire"]["more"] is True
        assert missed.error_message.startswith(f"at least {PASSED_OVER_LIMIT} slots from")

    def test_slots_before_an_edit_a_pause_or_the_retention_horizon_are_not_misses(self, settings):
        settings.EXECUTION_RETENTION_DAYS = 1
        start = at("2026-11-26T12:00:00")
        edited = interval_workflow(start + timedelta(seconds=30), 10)
        paused = interval_workflow(start, 10)
        AutomationWorkflow.objects.filter(pk=paused.pk).update(
            schedule_paused_until=start + timedelta(seconds=30)
        )
        # Every two days since four days ago; the run two days ago was pruned (retention: a day).
        pruned = interval_workflow(start - timedelta(days=4), 2 * 86400)
        for workflow in (edited, paused):
            assert schedule_fire(workflow_id=workflow.pk, now=start + timedelta(seconds=41))
            assert slots_of(workflow, "queued") == [start + timedelta(seconds=s) for s in (30, 40)]
        assert schedule_fire(workflow_id=pruned.pk, now=start + timedelta(seconds=1))
        assert slots_of(pruned, "queued") == [start]
        assert not pruned.executions.filter(status="cancelled").exists()

    def test_a_slot_the_overlap_policy_skipped_is_not_started_later(self):
        start = at("2026-11-26T12:00:00")
        workflow = interval_workflow(start, 2, overlap_policy="skip")
        first = schedule_fire(workflow_id=workflow.pk, now=start + timedelta(seconds=0.5))
        assert first is not None
        assert schedule_fire(workflow_id=workflow.pk, now=start + timedelta(seconds=2.5)) is None
        assert AuditEntry.objects.filter(action="skipped").count() == 1
        AutomationExecution.objects.filter(pk=first.pk).update(status="completed")
        latest = schedule_fire(workflow_id=workflow.pk, now=start + timedelta(seconds=4.5))
        assert latest is not None and latest.scheduled_for == start + timedelta(seconds=4)
        assert workflow.executions.count() == 2
        assert AuditEntry.objects.filter(action="skipped").count() == 1

    @hypothesis_settings(deadline=None, max_examples=60)
    @given(gaps=st.lists(st.floats(min_value=0.05, max_value=40), min_size=1, max_size=25))
    def test_whatever_the_fire_times_every_slot_is_started_or_recorded_as_missed(self, gaps):
        """Fires at arbitrary moments (stalls of up to 20 slots, many fires in one slot): every
        slot from the first fire's to the last one's is started once or stands in a miss
        record, and no slot started more than the grace after it."""
        grace = 10.0
        start = at("2026-11-26T12:00:00")
        with (
            override_settings(SCHEDULE_MISFIRE_GRACE_S=grace),
            transaction.atomic(),
            time_machine.travel(start, tick=False) as clock,
        ):
            workflow = interval_workflow(start, 2)
            moment = start
            for gap in [0.0, *gaps]:
                moment += timedelta(seconds=gap)
                clock.move_to(moment)
                schedule_fire(workflow_id=workflow.pk)
            covered = []
            for execution in workflow.executions.order_by("scheduled_for"):
                if execution.status == "cancelled":
                    misfire = execution.trigger_payload["misfire"]
                    first = datetime.fromisoformat(misfire["first"])
                    count = int((execution.scheduled_for - first).total_seconds()) // 2 + 1
                    assert count == misfire["slots"]
                    covered += [first + timedelta(seconds=2 * n) for n in range(count)]
                else:
                    late = execution.created_at - execution.scheduled_for
                    assert timedelta(0) <= late <= timedelta(seconds=grace)
                    covered.append(execution.scheduled_for)
            last = start + (moment - start) // timedelta(seconds=2) * timedelta(seconds=2)
            expected = [start + timedelta(seconds=2 * n) for n in range(len(covered) + 1)]
            assert covered == [slot for slot in expected if slot <= last]
            transaction.set_rollback(True)


@pytest.mark.django_db
class TestOverlapOnFire:
    def test_a_skipped_slot_is_logged_and_audited_once_and_never_started_late(
        self, settings, caplog
    ):
        settings.SCHEDULE_MISFIRE_GRACE_S = 60
        trigger = {"type": "schedule", "interval_s": 3600, "start_at": "2026-11-26T12:00:00+00:00"}
        workflow = WorkflowFactory(trigger=trigger, schedule="", overlap_policy="skip")
        under_way = ExecutionFactory(workflow=workflow, status="running")
        with caplog.at_level(logging.WARNING, logger="workflows.services.schedules"):
            assert schedule_fire(workflow_id=workflow.pk, now=at("2026-11-26T13:00:05")) is None
        assert "slot 2026-11-26T13:00:00+00:00 not started. Skipped" in caplog.text
        entry = AuditEntry.objects.get(action="skipped")
        assert entry.actor["kind"] == "schedule"
        assert (entry.object_type, entry.object_id) == ("workflow", str(workflow.pk))
        assert entry.detail["slot"] == "2026-11-26T13:00:00+00:00"
        assert entry.detail["under_way"] == under_way.pk
        # The run finished; later ticks of the same slot neither start it late nor record a
        # misfire or a second skip.
        under_way.status = "completed"
        under_way.save()
        for later in ("2026-11-26T13:00:30", "2026-11-26T13:05:00"):
            assert schedule_fire(workflow_id=workflow.pk, now=at(later)) is None
        assert AuditEntry.objects.filter(action="skipped").count() == 1
        assert list(AutomationExecution.objects.values_list("pk", flat=True)) == [under_way.pk]
        assert schedule_fire(workflow_id=workflow.pk, now=at("2026-11-26T14:00:01")) is not None

    def test_cancel_new_holds_the_slot_with_a_cancelled_run(self):
        workflow = WorkflowFactory(
            trigger={"type": "schedule"}, schedule="* * * * *", overlap_policy="cancel_new"
        )
        ExecutionFactory(workflow=workflow, status="running")
        now = at("2026-11-26T12:00:05")
        cancelled = schedule_fire(workflow_id=workflow.pk, now=now)
        assert cancelled is not None and cancelled.status == "cancelled"
        assert schedule_fire(workflow_id=workflow.pk, now=now + timedelta(seconds=20)) is None

    def test_cancel_running_is_audited_as_the_schedule(self):
        workflow = WorkflowFactory(
            trigger={"type": "schedule"}, schedule="* * * * *", overlap_policy="cancel_running"
        )
        queued = ExecutionFactory(workflow=workflow, status="queued")
        fired = schedule_fire(workflow_id=workflow.pk, now=at("2026-11-26T12:00:05"))
        queued.refresh_from_db()
        assert fired is not None and fired.status == "queued" and queued.status == "cancelled"
        entry = AuditEntry.objects.get(action="cancelled")
        assert entry.actor == {
            "kind": "schedule",
            "name": "* * * * *",
            "id": "2026-11-26T12:00:00+00:00",
        }


def test_the_upcoming_slots_of_a_cron_name_a_skipped_wall_time_once_at_its_real_time():
    # Europe/Paris springs forward at 02:00 on 2027-03-28: 02:30 is 03:30 that day.
    runs = schedule_upcoming(
        {"type": "schedule", "timezone": "Europe/Paris"},
        "30 2,3 * * *",
        after=at("2027-03-27T12:00:00"),
        count=3,
    )
    assert [run.isoformat() for run in runs] == [
        "2027-03-28T03:30:00+02:00",
        "2027-03-29T02:30:00+02:00",
        "2027-03-29T03:30:00+02:00",
    ]


@pytest.mark.parametrize(
    ("trigger", "schedule", "description"),
    [
        (
            {"type": "schedule", "timezone": "Europe/Paris"},
            "0 9 * * *",
            "Every day at 09:00 (Europe/Paris)",
        ),
        ({"type": "schedule"}, "30 9 * * 1-5", "At 09:30, Monday through Friday (UTC)"),
        ({"type": "schedule"}, "*/15 * * * *", "Every 15 minutes (UTC)"),
        ({"type": "schedule", "interval_s": 900}, "", "Every 15 minutes"),
        ({"type": "schedule", "interval_s": 3600}, "", "Every hour"),
        ({"type": "schedule", "interval_s": 90}, "", "Every 90 seconds"),
    ],
)
def test_a_schedule_is_described_in_a_sentence(trigger, schedule, description):
    assert schedule_description(trigger, schedule) == description
