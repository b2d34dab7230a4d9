"""The kernel's housekeeping, run by Beat: the sweep that re-sends lost work, and the pruning of
old executions."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from workflows.models import (
    FINISHED_STATUSES,
    AutomationExecution,
    AutomationExecutionStep,
    AutomationWorkflow,
    ExecutionStatus,
    KernelEvent,
)
from workflows.services.dispatch import EXECUTIONS, executions_due
from workflows.services.overlap import overlap_limit

PRUNE_BATCH = 1000
# Workflows with max_concurrency one sweep looks at.
EXECUTIONS_SWEEP_WORKFLOWS = 200


def executions_prunable(cutoff: datetime) -> QuerySet[AutomationExecution]:
    """Finished executions created before ``cutoff``, but for those a kept replay takes its
    effect ledger from (``effect_scope``): their ledger rows would go with them, and a replay
    of the replay would make their effects again. They go once their replays have gone."""
    in_use = AutomationExecution.objects.filter(effect_scope__isnull=False).values("effect_scope")
    return AutomationExecution.objects.filter(
        status__in=FINISHED_STATUSES, created_at__lt=cutoff
    ).exclude(pk__in=in_use)


def execution_prune(*, now: datetime | None = None, batch: int = PRUNE_BATCH) -> int:
    """Delete finished executions older than EXECUTION_RETENTION_DAYS (executions_prunable), a
    batch per transaction, so no lock is held for long. Returns how many were deleted."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.EXECUTION_RETENTION_DAYS)
    old = executions_prunable(cutoff).order_by("pk")
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(old.values_list("pk", flat=True)[:batch])
            if not ids:
                KernelEvent.objects.filter(processed_at__lt=cutoff).delete()
                return deleted
            AutomationExecutionStep.objects.filter(execution_id__in=ids).delete()
            AutomationExecution.objects.filter(pk__in=ids).delete()
        deleted += len(ids)


def execution_sweep(*, now: datetime | None = None) -> int:
    """Re-send executions whose message was lost, whose worker died, or whose retry or wait is
    due (workflows/dispatch.py says which count as lost). Returns how many were re-sent."""
    return EXECUTIONS.sweep(now=now, more=_limited_lost)


def _limited_lost(now: datetime, cutoff: datetime | None) -> list[int]:
    """Due executions of workflows with ``max_concurrency`` whose message is gone, as many per
    workflow as it has free slots, oldest first. A parked execution is woken by the finish that
    frees its slot; this covers a wake-up message that was lost."""
    due = AutomationExecution.objects.filter(executions_due(now), concurrency_limited=True)
    workflows = AutomationWorkflow.objects.filter(pk__in=due.values("workflow_id")).values_list(
        "pk", "max_concurrency", "overlap_policy"
    )
    ids: list[int] = []
    for workflow_id, max_concurrency, policy in workflows[:EXECUTIONS_SWEEP_WORKFLOWS]:
        limit = overlap_limit(max_concurrency=max_concurrency, overlap_policy=policy)
        mine = due.filter(workflow_id=workflow_id)
        unsent = mine.filter(EXECUTIONS.unsent(cutoff)).order_by("pk").values_list("pk", flat=True)
        if limit is not None:
            # Slots held by running executions (an expired lease included: the sweep re-sends
            # that one, and it reclaims its own slot), and by messages still on their way.
            held = (
                AutomationExecution.objects.filter(
                    workflow_id=workflow_id, status=ExecutionStatus.RUNNING
                ).count()
                + mine.exclude(EXECUTIONS.unsent(cutoff)).count()
            )
            unsent = unsent[: max(0, limit - held)]
        ids += unsent
    return ids
