"""Backfill: run a schedule workflow's slots over a past date range — each slot once, oldest
first, at most ``max_concurrency`` at a time, as a cancellable job (workflows/services/jobs.py).

A backfilled execution is a schedule run of its slot (``trigger_type`` schedule,
``scheduled_for`` the slot) whose payload says ``"backfill": true``; a slot that already has an
execution — a live run, a recorded misfire, an earlier backfill — is left alone and counted, as
the slot's uniqueness makes a second run of it impossible. Backfilled runs go on the ordinary
lane, behind live work, and never on the lane that keeps live schedules on time; the workflow's
overlap policy governs live triggers, the job's own cap governs a backfill.
"""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from workflows.models import (
    ActorKind,
    AutomationExecution,
    AutomationWorkflow,
    Job,
    JobKind,
    TriggerType,
)
from workflows.schedules import schedule_upcoming
from workflows.services.audit import Actor
from workflows.services.executions import ExecutionConflict, execution_create
from workflows.services.jobs import job_create

# How many slots one call of the schedule's clock lists at a time.
_PAGE = 500


class NotScheduled(Exception):
    """The workflow's trigger is not a schedule: it has no slots to backfill."""


def schedule_slots_between(
    workflow: AutomationWorkflow, *, start: datetime, end: datetime, limit: int
) -> list[datetime]:
    """The workflow's slots from ``start`` to ``end`` (both included), oldest first, at most
    ``limit`` + 1 (one more says the range holds more than ``limit``)."""
    slots: list[datetime] = []
    after = start - timedelta(microseconds=1)
    while len(slots) <= limit:
        page = schedule_upcoming(workflow.trigger, workflow.schedule, after=after, count=_PAGE)
        within = [slot for slot in page if slot <= end]
        slots += within[: limit + 1 - len(slots)]
        if len(within) < len(page) or not page:
            break
        after = page[-1]
    return slots


def backfill_start(
    *,
    workflow: AutomationWorkflow,
    start: datetime,
    end: datetime,
    max_concurrency: int,
    actor: Actor | None,
) -> tuple[Job, int, int]:
    """A job that runs the workflow's slots in [start, end] that have no execution yet. Returns
    the job, how many slots the range holds and how many of them already had an execution.

    Raises NotScheduled, or serializers.ValidationError naming the field for a range that is
    empty, reversed, in the future or longer than JOB_MAX_ITEMS slots.
    """
    if workflow.trigger_type != TriggerType.SCHEDULE:
        raise NotScheduled(
            f"Workflow {workflow.pk} has a {workflow.trigger_type} trigger, not a schedule: "
            "it has no slots to backfill."
        )
    if end <= start:
        raise serializers.ValidationError({"end": ["Must be after start."]})
    if end > timezone.now():
        raise serializers.ValidationError(
            {"end": ["Must not be in the future: a backfill runs slots that have passed."]}
        )
    limit = int(settings.JOB_MAX_ITEMS)
    slots = schedule_slots_between(workflow, start=start, end=end, limit=limit)
    if len(slots) > limit:
        raise serializers.ValidationError(
            {"end": [f"The range holds more than {limit} slots: backfill a shorter one."]}
        )
    ran = set(
        AutomationExecution.objects.filter(
            workflow=workflow, scheduled_for__gte=start, scheduled_for__lte=end
        ).values_list("scheduled_for", flat=True)
    )
    missing = [slot.isoformat() for slot in slots if slot not in ran]
    params: dict[str, Any] = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "max_concurrency": max_concurrency,
        "slots": len(slots),
        "already_run": len(slots) - len(missing),
    }
    job = job_create(
        kind=JobKind.BACKFILL,
        items=missing,
        params=params,
        actor=actor,
        workflow_id=workflow.pk,
    )
    return job, len(slots), len(slots) - len(missing)


def backfill_item_start(job: Job, item: Any) -> None:
    """Start the backfill ``job``'s run of the slot ``item`` (ISO 8601)."""
    workflow = job.workflow
    if workflow is None:
        raise ExecutionConflict("The workflow was deleted.")
    who = (job.created_by or {}).get("name") or "someone"
    execution, created = execution_create(
        workflow=workflow,
        trigger_type=TriggerType.SCHEDULE,
        payload={"scheduled_for": item, "backfill": True},
        scheduled_for=datetime.fromisoformat(item),
        triggered_by=Actor(ActorKind.SCHEDULE, f"backfill by {who}", job.pk),
        job=job,
    )
    if not created:
        raise ExecutionConflict(f"The slot already has execution {execution.pk}.")
