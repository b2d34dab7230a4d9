"""Reads on workflows and executions."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet

from workflows.models import AutomationExecution, AutomationWorkflow, TriggerType
from workflows.schedules import schedule_description, schedule_upcoming


def success_rate(succeeded: int, failed: int) -> float | None:
    """Completed ÷ finished (completed + failed), or None when nothing finished yet."""
    finished = succeeded + failed
    return round(succeeded / finished, 4) if finished else None


def workflow_list() -> QuerySet[AutomationWorkflow]:
    return AutomationWorkflow.objects.all()


def execution_list() -> QuerySet[AutomationExecution]:
    return AutomationExecution.objects.select_related("workflow").defer(
        "context", "definition", "workflow__actions", "workflow__trigger"
    )


def execution_detail_list() -> QuerySet[AutomationExecution]:
    return AutomationExecution.objects.select_related("workflow").prefetch_related("steps")


class ScheduleMissing(Exception):
    """The workflow has no schedule trigger."""


@dataclass(frozen=True)
class SchedulePreview:
    """When a schedule trigger fires next: ``next`` in its time zone, none before the pause."""

    timezone: str
    description: str
    next: list[datetime]
    paused_until: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone,
            "description": self.description,
            "next": [moment.isoformat() for moment in self.next],
            "paused_until": self.paused_until.isoformat() if self.paused_until else None,
        }


def workflow_schedule_preview(
    *, workflow: AutomationWorkflow, count: int, now: datetime
) -> SchedulePreview:
    """The next ``count`` slots of a schedule workflow after ``now``, leaving out the slots
    before its ``schedule_paused_until`` (a paused slot is never run, nor caught up).

    Raises ScheduleMissing when the workflow's trigger is not a schedule.
    """
    if workflow.trigger_type != TriggerType.SCHEDULE:
        raise ScheduleMissing(
            f"Workflow {workflow.pk} has a {workflow.trigger_type} trigger, not a schedule."
        )
    paused_until = workflow.schedule_paused_until
    after = now
    if paused_until is not None and paused_until > now:
        after = paused_until - timedelta(microseconds=1)  # a slot at the pause's end runs
    trigger, schedule = workflow.trigger, workflow.schedule
    return SchedulePreview(
        timezone=trigger.get("timezone") or "UTC",
        description=schedule_description(trigger, schedule),
        next=schedule_upcoming(trigger, schedule, after=after, count=count),
        paused_until=paused_until,
    )
