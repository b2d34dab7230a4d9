"""Schedule triggers: slots, the Beat entry kept in sync, once-per-slot fires, misfires."""

from datetime import UTC, datetime, timedelta

import pytest
from django_celery_beat.models import PeriodicTask, PeriodicTasks

from tests.factories import WorkflowFactory
from workflows.models import AutomationExecution
from workflows.schedules import schedule_slot
from workflows.services.schedules import periodic_task_name, schedule_fire, schedule_sync_all
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


def test_an_interval_slot_rounds_down_to_the_interval():
    trigger = {"type": "schedule", "interval_s": 10}
    assert schedule_slot(trigger, "", at("2026-11-26T12:00:07")) == at("2026-11-26T12:00:00")


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

    def test_a_slot_missed_while_beat_was_down_is_skipped(self, settings):
        settings.SCHEDULE_MISFIRE_GRACE_S = 300
        workflow = WorkflowFactory(trigger={"type": "schedule"}, schedule="0 * * * *")
        assert schedule_fire(workflow_id=workflow.pk, now=at("2026-11-26T12:10:00")) is None
        assert AutomationExecution.objects.count() == 0

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
