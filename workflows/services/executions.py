"""Writes on executions: create (trigger), cancel, retry, and the sweep that recovers lost work."""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from workflows.models import (
    FINISHED_STATUSES,
    AutomationExecution,
    AutomationExecutionStep,
    AutomationWorkflow,
    ExecutionStatus,
    StepStatus,
    WorkflowRevision,
)
from workflows.services.dispatch import execution_dispatch

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500
PRUNE_BATCH = 1000
SWEEP_LOCK_KEY = 0x5717EE9


class ExecutionConflict(Exception):
    """The execution is not in a state that allows the operation."""


# Apps above the kernel add what they know to a new execution's context (the content app adds
# ``article`` when the payload names ``article_id``): fn(payload, context) -> None, in place.
ContextProvider = Callable[[Any, dict[str, Any]], None]
_context_providers: list[ContextProvider] = []


def context_provider_register(provider: ContextProvider) -> None:
    if provider not in _context_providers:
        _context_providers.append(provider)


def context_for(payload: Any, given: dict[str, Any] | None) -> dict[str, Any]:
    """A new execution's context: what the trigger gave, plus what the providers add."""
    context = {**(given or {}), "steps": {}}
    for provider in _context_providers:
        provider(payload, context)
    return context


def _definition_snapshot(workflow: AutomationWorkflow) -> dict[str, Any]:
    return {
        "name": workflow.name,
        "version": workflow.version,
        "trigger": workflow.trigger,
        "actions": workflow.actions,
    }


def _latest_revision_id(workflow: AutomationWorkflow) -> int | None:
    return (
        WorkflowRevision.objects.filter(workflow=workflow)
        .order_by("-number")
        .values_list("pk", flat=True)
        .first()
    )


def _article_version_pin(context: dict[str, Any]) -> dict[str, Any]:
    """A run that concerns an article is pinned to the content version it started with
    (``article_version``): its record says which text it acted on, whatever changed later."""
    article = context.get("article")
    if isinstance(article, dict) and article.get("version_number") is not None:
        context["article_version"] = {
            "article_id": article.get("id"),
            "version_number": article["version_number"],
        }
    return context


def execution_create(
    *,
    workflow: AutomationWorkflow,
    trigger_type: str,
    payload: Any = None,
    idempotency_key: str | None = None,
    context: dict[str, Any] | None = None,
    scheduled_for: datetime | None = None,
) -> tuple[AutomationExecution, bool]:
    """Create a queued execution and send it to a worker after commit.

    Returns ``(execution, created)``; with an ``idempotency_key`` or a schedule slot already used
    for this workflow, the first execution is returned and nothing new starts.
    """
    if idempotency_key:
        first = AutomationExecution.objects.filter(
            workflow=workflow, idempotency_key=idempotency_key
        ).first()
        if first is not None:
            return first, False
    try:
        with transaction.atomic():
            execution = AutomationExecution.objects.create(
                workflow=workflow,
                trigger_type=trigger_type,
                trigger_payload=payload if payload is not None else {},
                definition=_definition_snapshot(workflow),
                workflow_version=workflow.version,
                revision_id=_latest_revision_id(workflow),
                context=_article_version_pin(context_for(payload, context)),
                idempotency_key=idempotency_key or "",
                steps_total=len(workflow.actions),
                dispatched_at=timezone.now(),
                scheduled_for=scheduled_for,
                concurrency_limited=workflow.max_concurrency is not None,
            )
            execution_dispatch(execution.pk)
    except IntegrityError:
        # A concurrent request with the same key, or a second fire of the same slot, won.
        existing = AutomationExecution.objects.filter(workflow=workflow)
        if idempotency_key:
            return existing.get(idempotency_key=idempotency_key), False
        if scheduled_for is not None:
            return existing.get(scheduled_for=scheduled_for), False
        raise
    return execution, True


def execution_cancel(*, execution: AutomationExecution) -> AutomationExecution:
    """Cancel a queued execution now, or ask a running one to stop before its next step.

    Raises ExecutionConflict when the execution already finished.
    """
    with transaction.atomic():
        locked = AutomationExecution.objects.select_for_update().get(pk=execution.pk)
        if locked.status in FINISHED_STATUSES:
            raise ExecutionConflict(f"Execution {locked.pk} already {locked.status}.")
        if locked.status in (ExecutionStatus.QUEUED, ExecutionStatus.WAITING):
            now = timezone.now()
            locked.status = ExecutionStatus.CANCELLED
            locked.completed_at = now
            locked.error_message = "Cancelled."
            locked.next_attempt_at = None
            locked.cancel_requested = True
            locked.save(
                update_fields=[
                    "status",
                    "completed_at",
                    "error_message",
                    "next_attempt_at",
                    "cancel_requested",
                ]
            )
        else:
            locked.cancel_requested = True
            locked.save(update_fields=["cancel_requested"])
    return locked


def execution_retry(*, execution: AutomationExecution) -> AutomationExecution:
    """Resume a failed execution from its failed step, keeping the outputs of completed steps.

    Raises ExecutionConflict unless the execution failed.
    """
    with transaction.atomic():
        locked = AutomationExecution.objects.select_for_update().get(pk=execution.pk)
        if locked.status != ExecutionStatus.FAILED:
            raise ExecutionConflict(
                f"Only failed executions can be retried; execution {locked.pk} is {locked.status}."
            )
        failed = list(
            locked.steps.filter(
                status__in=[StepStatus.FAILED, StepStatus.RETRYING, StepStatus.RUNNING]
            )
        )
        actions = locked.definition.get("actions", [])
        resumable = [
            step.pk
            for step in failed
            if step.status != StepStatus.FAILED
            or not (
                step.step_index < len(actions)
                and actions[step.step_index].get("continue_on_failure")
            )
        ]
        locked.steps.filter(pk__in=resumable).delete()
        locked.status = ExecutionStatus.QUEUED
        locked.error_message = ""
        locked.completed_at = None
        locked.execution_time_ms = None
        locked.next_attempt_at = None
        locked.deliveries = 0
        locked.cancel_requested = False
        locked.dispatched_at = timezone.now()
        locked.save()
        execution_dispatch(locked.pk)
    return locked


def execution_decide(
    *, execution: AutomationExecution, approved: bool, user: Any, comment: str = ""
) -> AutomationExecution:
    """Approve or reject the approval step an execution is waiting on, and resume it.

    Raises ExecutionConflict unless the execution waits on an undecided approval step.
    """
    with transaction.atomic():
        locked = AutomationExecution.objects.select_for_update().get(pk=execution.pk)
        step = (
            locked.steps.filter(status=StepStatus.WAITING, step_type="approval")
            .order_by("-step_index")
            .first()
        )
        if locked.status != ExecutionStatus.WAITING or step is None:
            raise ExecutionConflict(f"Execution {locked.pk} is not waiting for an approval.")
        if step.output.get("decision"):
            raise ExecutionConflict(f"Execution {locked.pk} was already {step.output['decision']}.")
        now = timezone.now()
        step.output = {
            **step.output,
            "decision": "approved" if approved else "rejected",
            "decided_by": getattr(user, "username", "") or "someone",
            "decided_at": now.isoformat(),
            "comment": comment,
        }
        step.save(update_fields=["output"])
        locked.status = ExecutionStatus.QUEUED
        locked.next_attempt_at = None
        locked.dispatched_at = now
        locked.save(update_fields=["status", "next_attempt_at", "dispatched_at"])
        execution_dispatch(locked.pk)
    return locked


def _due_for_resend(now: datetime) -> Q:
    requeue_before = now - timedelta(seconds=settings.EXECUTION_REQUEUE_AFTER_S)
    queued = (
        Q(status=ExecutionStatus.QUEUED)
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        & (Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=requeue_before))
    )
    expired = Q(status=ExecutionStatus.RUNNING, lease_expires_at__lt=now) & (
        Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=requeue_before)
    )
    resumable = Q(status=ExecutionStatus.WAITING, next_attempt_at__lte=now) & (
        Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=requeue_before)
    )
    return queued | expired | resumable


def _sweep_lock() -> bool:
    """Hold the sweep's lock until the transaction ends; False when another sweep holds it.

    PostgreSQL: a transaction-level advisory lock. SQLite: write transactions are IMMEDIATE, so
    they already run one at a time.
    """
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SWEEP_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def execution_prune(*, now: datetime | None = None, batch: int = PRUNE_BATCH) -> int:
    """Delete finished executions older than EXECUTION_RETENTION_DAYS, a batch per transaction,
    so no lock is held for long. Returns how many were deleted."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.EXECUTION_RETENTION_DAYS)
    old = AutomationExecution.objects.filter(
        status__in=FINISHED_STATUSES, created_at__lt=cutoff
    ).order_by("pk")
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(old.values_list("pk", flat=True)[:batch])
            if not ids:
                return deleted
            AutomationExecutionStep.objects.filter(execution_id__in=ids).delete()
            AutomationExecution.objects.filter(pk__in=ids).delete()
        deleted += len(ids)


def execution_sweep(*, now: datetime | None = None) -> int:
    """Re-send executions whose message was lost, whose worker died, or whose retry is due.

    Rows are locked with SKIP LOCKED, so two sweeps running at once never send the same
    execution twice. Returns how many executions were re-sent.
    """
    now = now or timezone.now()
    with transaction.atomic():
        if not _sweep_lock():
            return 0
        rows = list(
            AutomationExecution.objects.select_for_update(skip_locked=True)
            .filter(_due_for_resend(now))
            .order_by("id")
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        if not rows:
            return 0
        AutomationExecution.objects.filter(pk__in=rows).update(dispatched_at=now)
        for execution_id in rows:
            execution_dispatch(execution_id)
    logger.info("sweep re-sent %d executions", len(rows))
    return len(rows)
