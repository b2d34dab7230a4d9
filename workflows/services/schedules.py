"""Schedule triggers: each scheduled workflow owns one django-celery-beat PeriodicTask, kept in
sync by ``schedule_sync``; each fire records its slot uniquely, so a duplicate fire is a no-op.

Misfires: a fire that arrives more than SCHEDULE_MISFIRE_GRACE_S after its slot (Beat was down
across it) is skipped, so a Beat outage never replays a burst of old slots. With
SCHEDULE_CATCH_UP_LAST, the latest missed slot runs once instead.
"""

import json
import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import (
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    PeriodicTasks,
)

from workflows.models import AutomationExecution, AutomationWorkflow, TriggerType
from workflows.schedules import schedule_slot
from workflows.services.executions import execution_create

logger = logging.getLogger(__name__)

FIRE_TASK = "workflows.fire_schedule"
# An interval trigger's Beat entry ticks this many times per interval; every tick inside one
# slot after the first is a no-op, so a late or lost tick does not lose the slot.
INTERVAL_TICKS_PER_SLOT = 4


def periodic_task_name(workflow_id: int) -> str:
    return f"workflow-{workflow_id}-schedule"


def _wants_schedule(workflow: AutomationWorkflow) -> bool:
    return workflow.is_active and workflow.trigger_type == TriggerType.SCHEDULE


def _beat_schedule(workflow: AutomationWorkflow) -> dict[str, object]:
    interval = workflow.trigger.get("interval_s")
    if interval:
        every = max(1, int(interval) // INTERVAL_TICKS_PER_SLOT)
        tick, _ = IntervalSchedule.objects.get_or_create(
            every=every, period=IntervalSchedule.SECONDS
        )
        return {"interval": tick, "crontab": None}
    minute, hour, day_of_month, month, day_of_week = workflow.schedule.split()
    cron, _ = CrontabSchedule.objects.get_or_create(
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
    nothing to do (inactive, not scheduled, slot already fired, or a skipped misfire)."""
    now = now or timezone.now()
    workflow = AutomationWorkflow.objects.filter(
        pk=workflow_id, is_active=True, trigger_type=TriggerType.SCHEDULE
    ).first()
    if workflow is None:
        return None
    slot = schedule_slot(workflow.trigger, workflow.schedule, now)
    if slot is None:
        return None
    late_s = (now - slot).total_seconds()
    if late_s > settings.SCHEDULE_MISFIRE_GRACE_S and not settings.SCHEDULE_CATCH_UP_LAST:
        logger.info("workflow %s: skipping slot %s, %.0f s late", workflow_id, slot, late_s)
        return None
    execution, created = execution_create(
        workflow=workflow,
        trigger_type=TriggerType.SCHEDULE,
        payload={"scheduled_for": slot.isoformat()},
        scheduled_for=slot,
    )
    return execution if created else None
