"""Beat and the fire path together, on a fake clock, over 48 hours.

Each simulated Beat holds django-celery-beat's own ``ModelEntry`` for the workflow's
PeriodicTask (the real IntervalSchedule/CrontabSchedule ``schedule`` and its ``is_due``), wakes
when that says the entry is next due (a little late, as a real Beat is) and runs the task body
``fire_schedule`` for each due tick. Every slot must start exactly once, and nothing else: with
one Beat, with two Beats at once (every due tick delivered twice), and across a restart that
loses Beat's state. The expected slots are worked out here from the trigger alone, not
with ``schedule_slot``.
"""

import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.db.models import F
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from workflows.models import AutomationWorkflow
from workflows.services.schedules import periodic_task_name
from workflows.services.workflows import workflow_create
from workflows.tasks import fire_schedule

pytestmark = pytest.mark.django_db

ACTIONS = [{"id": "t", "type": "transform", "params": {"values": {"x": 1}}}]
HOURS = 48
# A real Beat sends a due task a moment after it falls due: the loop, the database, the broker.
BEAT_LATENCY = timedelta(seconds=0.7)
INTERVAL_S = 3600
START = datetime(2026, 11, 26, tzinfo=UTC)


@dataclass
class Beat:
    """One Beat process's view of the workflow's entry: its last run, its next wake-up."""

    workflow: AutomationWorkflow
    wake_at: datetime
    entry: ModelEntry = field(init=False)

    def __post_init__(self) -> None:
        self.restart()

    def restart(self, last_run_at: datetime | None = None) -> None:
        """A new process: the entry read afresh, its last run unknown (or ``last_run_at``)."""
        task = PeriodicTask.objects.get(name=periodic_task_name(self.workflow.pk))
        task.last_run_at = last_run_at
        self.entry = ModelEntry(task)

    def tick(self, now: datetime) -> None:
        due, wait_s = self.entry.is_due()
        if due:
            fire_schedule(self.workflow.pk)
            self.entry = next(self.entry)
        self.wake_at = now + timedelta(seconds=wait_s) + BEAT_LATENCY


def run(
    workflow: AutomationWorkflow,
    clock: time_machine.Traveller,
    *,
    until: datetime,
    restart_after: timedelta = timedelta(hours=HOURS / 2, seconds=7),
    down: tuple[datetime, datetime] | None = None,
) -> None:
    """Drive Beat from now until ``until``. Without ``down``, one 48-hour timeline covers the
    three cases: Beat alone; from hour 12 to 18 a second Beat at once, a copy of the first, so
    every due tick is delivered twice; Beat restarted ``restart_after`` in, its state (the last
    run) lost. With ``down``, one Beat that is stopped during ``down`` and then started again,
    its state lost."""
    start = datetime.now(UTC)
    first = Beat(workflow, start)
    processes = [first]
    events = [] if down else [
        (start + timedelta(hours=12), "second Beat"),
        (start + timedelta(hours=18), "second Beat stops"),
        (start + restart_after, "restart"),
    ]  # fmt: skip
    while True:
        beat = min(processes, key=lambda process: process.wake_at)
        if down and down[0] <= beat.wake_at < down[1]:
            beat.wake_at = down[1]
            beat.restart()
        if events and beat.wake_at >= events[0][0]:
            moment, event = events.pop(0)
            clock.move_to(moment)
            if event == "second Beat":
                second = Beat(workflow, moment)
                second.restart(last_run_at=first.entry.last_run_at)
                processes.append(second)
            elif event == "restart":
                for process in processes:  # a starting Beat looks at its entries at once
                    process.restart()
                    process.wake_at = moment
            else:
                processes.pop()
            continue
        if beat.wake_at >= until:
            return
        clock.move_to(beat.wake_at)
        beat.tick(beat.wake_at)


def expected_interval_slots(anchor: datetime, until: datetime) -> list[datetime]:
    slots = []
    slot = anchor
    while slot <= until:
        slots.append(slot)
        slot += timedelta(seconds=INTERVAL_S)
    return slots


def expected_cron_slots(
    minutes: list[int], hours: list[int], zone: str, since: datetime, until: datetime
) -> list[datetime]:
    """Every wall time the cron names, on each local day, at its first occurrence (fold=0)."""
    tz = zoneinfo.ZoneInfo(zone)
    first_day = since.astimezone(tz).date() - timedelta(days=1)
    slots = set()
    for day in range(HOURS // 24 + 3):
        date = first_day + timedelta(days=day)
        for hour in hours:
            for minute in minutes:
                wall = datetime(date.year, date.month, date.day, hour, minute, tzinfo=tz)
                slot = wall.astimezone(UTC)
                if since <= slot <= until:
                    slots.add(slot)
    return sorted(slots)


def fired_slots(workflow: AutomationWorkflow, status: str = "queued") -> list[datetime]:
    return sorted(workflow.executions.filter(status=status).values_list("scheduled_for", flat=True))


def assert_each_slot_started_once(workflow, slots, until):
    """Each slot that passed at least a grace before ``until`` started once, none before its
    time; a slot in the last grace may have too; nothing else started, nothing was missed."""
    grace = timedelta(seconds=settings.SCHEDULE_MISFIRE_GRACE_S)
    fired = fired_slots(workflow)
    must = [slot for slot in slots if slot <= until - grace]
    assert fired[: len(must)] == must
    assert set(fired) <= set(slots)
    assert workflow.executions.count() == len(fired)
    assert not workflow.executions.filter(created_at__lt=F("scheduled_for")).exists()


PHASES = [INTERVAL_S * eighth // 8 for eighth in range(8)]


@pytest.mark.parametrize("phase_s", PHASES)
def test_an_hourly_interval_starts_every_slot_once_whatever_its_phase(phase_s):
    created = START + timedelta(seconds=phase_s)
    until = START + timedelta(hours=HOURS)
    with time_machine.travel(created, tick=False) as clock:
        workflow = workflow_create(
            data={"name": "Hourly", "trigger": {"type": "schedule", "interval_s": INTERVAL_S},
                  "actions": ACTIONS}
        )  # fmt: skip
        run(workflow, clock, until=until)
    slots = expected_interval_slots(created, until)
    assert len(slots) >= HOURS - 1
    assert_each_slot_started_once(workflow, slots, until)


HALFWAY = timedelta(hours=HOURS / 2, seconds=7)
CRON_CASES = {
    "UTC": ("UTC", START, HALFWAY),
    "a whole-hour offset": ("Etc/GMT-5", START, HALFWAY),
    "a half-hour offset": ("Asia/Kolkata", START, HALFWAY),
    # Beat restarts at 03:40 CEST, just after the 02:30 slot ran (at 03:30: 02:30 was skipped).
    "Berlin, spring forward": (
        "Europe/Berlin", datetime(2026, 3, 28, tzinfo=UTC), timedelta(hours=25, minutes=40),
    ),
    # Beat restarts at 02:20 CET, in the hour that repeats, after its first 02:15 ran.
    "Berlin, fall back": (
        "Europe/Berlin", datetime(2026, 10, 24, tzinfo=UTC), timedelta(hours=25, minutes=20),
    ),
}  # fmt: skip
CRONS = {"15 * * * *": ([15], list(range(24))), "30 2 * * *": ([30], [2])}


@pytest.mark.parametrize("cron", CRONS)
@pytest.mark.parametrize("case", CRON_CASES)
def test_a_cron_starts_every_slot_once_in_its_time_zone(case, cron):
    zone, start, restart_after = CRON_CASES[case]
    until = start + timedelta(hours=HOURS)
    with time_machine.travel(start, tick=False) as clock:
        workflow = workflow_create(
            data={"name": "Cron", "trigger": {"type": "schedule", "timezone": zone},
                  "schedule": cron, "actions": ACTIONS}
        )  # fmt: skip
        run(workflow, clock, until=until, restart_after=restart_after)
    minutes, hours = CRONS[cron]
    slots = expected_cron_slots(minutes, hours, zone, start, until)
    assert_each_slot_started_once(workflow, slots, until)


def test_the_dst_days_have_the_slots_the_wall_clock_names():
    """The expectations above, spelt out for Berlin: 23 hourly slots on the spring-forward
    day, 24 (not 25) on the fall-back day; 02:30 on the spring day is 03:30 CEST."""
    spring = datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 22, tzinfo=UTC)
    autumn = datetime(2026, 10, 24, 22, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC)
    hourly = [15], list(range(24))
    assert len(expected_cron_slots(*hourly, "Europe/Berlin", *spring)) == 23
    assert len(expected_cron_slots(*hourly, "Europe/Berlin", *autumn)) == 24
    assert expected_cron_slots([30], [2], "Europe/Berlin", *spring) == [
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    ]


@pytest.mark.parametrize("kind", ["interval", "cron"])
def test_beat_down_across_slots_records_the_missed_slots_once_then_goes_on(kind):
    """Beat down 02:10 → 04:40: the 02:15, 03:15 and 04:15 slots are all more than the grace
    old when Beat is back, so one record says the three were missed; 05:15 on runs again."""
    until = START + timedelta(hours=8)
    down = START + timedelta(hours=2, minutes=10), START + timedelta(hours=4, minutes=40)
    first_slot = START + timedelta(minutes=15)
    trigger: dict[str, object] = {"type": "schedule"}
    schedule, created = "15 * * * *", START
    if kind == "interval":  # anchored where it is created: its first slot is then
        trigger, schedule = {"type": "schedule", "interval_s": INTERVAL_S}, ""
        created = first_slot
    with time_machine.travel(created, tick=False) as clock:
        workflow = workflow_create(
            data={"name": "Gap", "trigger": trigger, "schedule": schedule, "actions": ACTIONS}
        )
        run(workflow, clock, until=until, down=down)
    hour = timedelta(hours=1)
    assert fired_slots(workflow, "cancelled") == [first_slot + 4 * hour]
    missed = workflow.executions.get(status="cancelled")
    assert missed.trigger_payload["misfire"]["late_s"] == pytest.approx(25 * 60, abs=1)
    assert missed.trigger_payload["misfire"]["slots"] == 3
    assert missed.trigger_payload["misfire"]["first"] == (first_slot + 2 * hour).isoformat()
    assert fired_slots(workflow) == [first_slot + n * hour for n in (0, 1, 5, 6, 7)]
