"""Schedule triggers: each scheduled workflow owns one django-celery-beat PeriodicTask, kept in
sync by ``schedule_sync``; each fire records its slot uniquely, so a duplicate fire is a no-op.

A fire works out the latest slot at or before now (``schedule_slot``) and starts it unless the
slot already has an execution. Beat's ticks need not line up with the slots: a cron entry ticks
at the slots themselves, an interval entry often enough that every slot sees a tick within the
grace, whatever the phase between the two.

Passed-over slots: a fire also looks back for slots that no fire reached at all (Beat or the
control lane stalled across a whole slot), from the workflow's last recorded slot, its last
edit, the end of its pause or the retention horizon, whichever is latest. One still inside the
grace starts late, with a warning; older ones are misfires, below.

Misfires: a slot whose first fire arrives more than SCHEDULE_MISFIRE_GRACE_S after it (Beat was
down across it) is skipped, so a Beat outage never replays a burst of old slots, and the skip is
recorded: one cancelled execution, for the newest slot missed, that says how late the fire was
and how many slots it stands for. With SCHEDULE_CATCH_UP_LAST, the latest slot runs once
instead; the older ones are recorded as missed.

Pause: a slot before the workflow's ``schedule_paused_until`` starts nothing (logged at info),
and is never caught up. Overlap: a slot the ``skip`` policy does not start (a run is under way)
is logged as a warning and audited (action ``skipped``, the slot in the detail), once.
"""

import json
import logging
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone
from django_celery_beat.models import (
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    PeriodicTasks,
)

from workflows.models import (
    ActorKind,
    AuditEntry,
    AutomationExecution,
    AutomationWorkflow,
    ExecutionStatus,
    TriggerType,
)
from workflows.schedules import schedule_previous, schedule_slot
from workflows.services.audit import Actor, audit_record
from workflows.services.executions import execution_create, execution_definition
from workflows.services.overlap import OverlapSkipped

logger = logging.getLogger(__name__)
M = TypeVar("M", bound=Model)

FIRE_TASK = "workflows.fire_schedule"
# An interval trigger's Beat entry ticks at least this many times per interval; every tick inside
# one slot after the first is a no-op, so a late or lost tick does not lose the slot.
INTERVAL_TICKS_PER_SLOT = 4
MISFIRE_REASON = "beat_late"
# A fire looks back over at most this many passed-over slots; a longer gap is "at least" this.
PASSED_OVER_LIMIT = 1000
# The audit action of a slot the workflow's overlap policy (skip) did not start.
SKIPPED_ACTION = "skipped"


def periodic_task_name(workflow_id: int) -> str:
    return f"workflow-{workflow_id}-schedule"


def _wants_schedule(workflow: AutomationWorkflow) -> bool:
    return workflow.is_active and workflow.trigger_type == TriggerType.SCHEDULE


def interval_tick_s(interval_s: int) -> int:
    """Seconds between an interval trigger's Beat ticks. Whatever the phase between ticks and
    slots, a slot is reached less than one tick after it; a tick of at most half the grace
    leaves the other half for Beat itself running late."""
    half_grace = int(settings.SCHEDULE_MISFIRE_GRACE_S // 2)
    return max(1, min(interval_s // INTERVAL_TICKS_PER_SLOT, half_grace))


def _first_or_create(model: type[M], **fields: object) -> M:
    """The oldest row with these fields, or a new one. django-celery-beat's schedule tables have
    no unique constraint, so a duplicate row (from the admin, a restore, a race) may exist and
    get_or_create would raise MultipleObjectsReturned; any of equal rows serves."""
    rows = model._default_manager
    return rows.filter(**fields).order_by("pk").first() or rows.create(**fields)


def _beat_schedule(workflow: AutomationWorkflow) -> dict[str, object]:
    interval = workflow.trigger.get("interval_s")
    if interval:
        tick = _first_or_create(
            IntervalSchedule, every=interval_tick_s(int(interval)), period=IntervalSchedule.SECONDS
        )
        return {"interval": tick, "crontab": None}
    minute, hour, day_of_month, month, day_of_week = workflow.schedule.split()
    cron = _first_or_create(
        CrontabSchedule,
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month,
        day_of_week=day_of_week,
        timezone=workflow.trigger.get("timezone") or "UTC",
    )
    return {"crontab": cron, "interval": None}


def schedule_sync(*, workflow: AutomationWorkflow) -> None:
    """Create, update or remove the workflow's Beat entry to match its trigger and state."""
    name = periodic_task_name(workflow.pk)
    with transaction.atomic():
        if not _wants_schedule(workflow):
            PeriodicTask.objects.filter(name=name).delete()
        else:
            PeriodicTask.objects.update_or_create(
                name=name,
                defaults={
                    "task": FIRE_TASK,
                    "args": json.dumps([workflow.pk]),
                    "enabled": True,
                    "one_off": False,
                    "description": f"Schedule trigger of workflow {workflow.name!r}",
                    **_beat_schedule(workflow),
                },
            )
        # Beat reloads its entries only when this stamp moves; deletes and bulk writes don't.
        PeriodicTasks.update_changed()


def schedule_sync_all() -> int:
    """Bring every workflow's Beat entry in line (after bulk edits or a restore)."""
    wanted = set()
    for workflow in AutomationWorkflow.objects.filter(trigger_type=TriggerType.SCHEDULE):
        schedule_sync(workflow=workflow)
        if _wants_schedule(workflow):
            wanted.add(periodic_task_name(workflow.pk))
    stale = PeriodicTask.objects.filter(name__startswith="workflow-", task=FIRE_TASK).exclude(
        name__in=wanted
    )
    stale.delete()
    PeriodicTasks.update_changed()
    return len(wanted)


def schedule_fire(*, workflow_id: int, now: datetime | None = None) -> AutomationExecution | None:
    """Start the execution for the current slot, once. Returns it, or None when there is
    nothing to do (inactive, not scheduled, slot already fired or recorded as missed, a slot
    before ``schedule_paused_until``, a misfire, or a skip by the overlap policy; the last two
    are recorded)."""
    now = now or timezone.now()
    scheduled = AutomationWorkflow.objects.filter(
        pk=workflow_id, is_active=True, trigger_type=TriggerType.SCHEDULE
    )
    definition = scheduled.values_list("trigger", "schedule").first()
    if definition is None:
        return None
    slot = schedule_slot(*definition, now)
    # Most of Beat's ticks end here, on two light queries: the slot already has its execution.
    if (
        slot is None
        or AutomationExecution.objects.filter(workflow_id=workflow_id, scheduled_for=slot).exists()
    ):
        return None
    workflow = scheduled.first()
    if workflow is None:
        return None
    paused_until = workflow.schedule_paused_until
    if paused_until is not None and slot < paused_until:
        logger.info(
            "workflow %s: slot %s not started, the schedule is paused until %s",
            workflow.pk,
            slot.isoformat(),
            paused_until.isoformat(),
        )
        return None
    if _skip_recorded(workflow=workflow, slot=slot):
        return None
    grace = timedelta(seconds=settings.SCHEDULE_MISFIRE_GRACE_S)
    passed_over, more = _passed_over(workflow=workflow, slot=slot, now=now)
    missed = [earlier for earlier in passed_over if now - earlier > grace]
    missed_now = now - slot > grace and not settings.SCHEDULE_CATCH_UP_LAST
    if missed or missed_now:
        _misfire_record(
            workflow=workflow, slots=[*missed, slot] if missed_now else missed, more=more, now=now
        )
    for earlier in passed_over[len(missed) :]:
        logger.warning(
            "workflow %s: slot %s had no fire before the next slot (Beat or the control lane "
            "stalled); started %.1f s late",
            workflow.pk,
            earlier.isoformat(),
            (now - earlier).total_seconds(),
        )
        _slot_start(workflow=workflow, slot=earlier)
    return None if missed_now else _slot_start(workflow=workflow, slot=slot)


def _slot_start(*, workflow: AutomationWorkflow, slot: datetime) -> AutomationExecution | None:
    actor = Actor(ActorKind.SCHEDULE, workflow.schedule or "interval", slot.isoformat())
    try:
        execution, created = execution_create(
            workflow=workflow,
            trigger_type=TriggerType.SCHEDULE,
            payload={"scheduled_for": slot.isoformat()},
            scheduled_for=slot,
            triggered_by=actor,
        )
    except OverlapSkipped as exc:
        _skip_record(workflow=workflow, slot=slot, skipped=exc, actor=actor)
        return None
    return execution if created else None


def _passed_over(
    *, workflow: AutomationWorkflow, slot: datetime, now: datetime
) -> tuple[list[datetime], bool]:
    """The slots before ``slot`` that no fire reached, oldest first, and whether there were more
    than PASSED_OVER_LIMIT. Only slots after the workflow's last recorded slot count, and none
    before its last edit, the end of its pause, or the retention horizon (a pruned run is not a
    missed one). On the usual fire the slot before is the last recorded one: one query."""
    recorded = workflow.executions.filter(scheduled_for__lt=slot).order_by("-scheduled_for")
    last = recorded.values_list("scheduled_for", flat=True).first()
    horizon = now - timedelta(days=settings.EXECUTION_RETENTION_DAYS)
    floor = max(
        moment
        for moment in (workflow.updated_at, workflow.schedule_paused_until, horizon)
        if moment is not None
    )
    earlier: list[datetime] = []
    previous = schedule_previous(workflow.trigger, workflow.schedule, slot)
    while previous is not None and previous >= floor and (last is None or previous > last):
        if len(earlier) == PASSED_OVER_LIMIT:
            return _not_skipped(workflow=workflow, slots=earlier[::-1]), True
        earlier.append(previous)
        previous = schedule_previous(workflow.trigger, workflow.schedule, previous)
    return _not_skipped(workflow=workflow, slots=earlier[::-1]), False


def _not_skipped(*, workflow: AutomationWorkflow, slots: list[datetime]) -> list[datetime]:
    """``slots`` without those the overlap policy skipped already (they are recorded)."""
    if not slots:
        return slots
    skipped = set(
        AuditEntry.objects.filter(
            object_type="workflow",
            object_id=str(workflow.pk),
            action=SKIPPED_ACTION,
            detail__slot__in=[slot.isoformat() for slot in slots],
        ).values_list("detail__slot", flat=True)
    )
    return [slot for slot in slots if slot.isoformat() not in skipped]


def _skip_recorded(*, workflow: AutomationWorkflow, slot: datetime) -> bool:
    """Whether the slot was skipped for its overlap policy already: a later tick of the same slot
    (an interval ticks several times per slot) neither starts it late nor records it again."""
    return AuditEntry.objects.filter(
        object_type="workflow",
        object_id=str(workflow.pk),
        action=SKIPPED_ACTION,
        detail__slot=slot.isoformat(),
    ).exists()


def _skip_record(
    *, workflow: AutomationWorkflow, slot: datetime, skipped: OverlapSkipped, actor: Actor
) -> None:
    """A slot the overlap policy skipped is never silent: a warning, and an audit entry."""
    logger.warning("workflow %s: slot %s not started. %s", workflow.pk, slot.isoformat(), skipped)
    audit_record(
        actor=actor,
        action=SKIPPED_ACTION,
        object_type="workflow",
        object_id=workflow.pk,
        detail={
            "name": workflow.name,
            "slot": slot.isoformat(),
            "under_way": skipped.under_way_id,
            "reason": str(skipped),
        },
    )


def _misfire_record(
    *, workflow: AutomationWorkflow, slots: list[datetime], more: bool, now: datetime
) -> None:
    """Record missed ``slots`` (oldest first; ``more``: there were older ones too) as one
    cancelled execution that never runs, for the newest. It holds that slot's unique place, so
    no later fire can start it, and later fires look back no further than it."""
    grace = settings.SCHEDULE_MISFIRE_GRACE_S
    slot = slots[-1]
    late_s = (now - slot).total_seconds()
    if len(slots) == 1 and not more:
        what = f"Slot {slot.isoformat()} skipped: Beat fired it"
    else:
        count = f"at least {len(slots)}" if more else str(len(slots))
        what = (
            f"{count} slots from {slots[0].isoformat()} to {slot.isoformat()} skipped: "
            "Beat fired the last of them"
        )
    message = (
        f"{what} {late_s:.0f} s late, more than SCHEDULE_MISFIRE_GRACE_S ({grace:.0f} s). "
        "Was Beat down or overloaded?"
    )
    try:
        with transaction.atomic():
            AutomationExecution.objects.create(
                workflow=workflow,
                trigger_type=TriggerType.SCHEDULE,
                trigger_payload={
                    "scheduled_for": slot.isoformat(),
                    "misfire": {
                        "late_s": round(late_s, 3),
                        "reason": MISFIRE_REASON,
                        "slots": len(slots),
                        "first": slots[0].isoformat(),
                        "more": more,
                    },
                },
                definition=execution_definition(workflow),
                workflow_version=workflow.version,
                scheduled_for=slot,
                status=ExecutionStatus.CANCELLED,
                completed_at=now,
                steps_total=len(workflow.actions),
                error_message=message,
            )
    except IntegrityError:
        return  # a concurrent fire (a second Beat) started or recorded the slot first
    logger.warning("workflow %s: %s", workflow.pk, message)
