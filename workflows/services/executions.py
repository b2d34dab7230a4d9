"""Writes on executions: create (trigger), cancel, retry and decide (approvals). The sweep and
the pruning are in housekeeping.py."""

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from opentelemetry.trace import SpanKind

from core.tracing import span, span_set, traceparent
from workflows.approvals import ApprovalRefused, LinkClaim, vote_apply
from workflows.dispatch import dispatch_mark
from workflows.models import (
    FINISHED_STATUSES,
    STEP_UNDER_WAY_STATUSES,
    AutomationExecution,
    AutomationExecutionStep,
    AutomationWorkflow,
    ExecutionStatus,
    Job,
    StepStatus,
    WorkflowRevision,
)
from workflows.services.audit import Actor, audit_record
from workflows.services.counters import workflow_counters_remove_failure
from workflows.services.dispatch import EXECUTIONS, execution_dispatch, executions_due
from workflows.services.overlap import overlap_apply

logger = logging.getLogger(__name__)


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


def execution_definition(workflow: AutomationWorkflow) -> dict[str, Any]:
    """The definition an execution keeps: what it runs with, whatever the workflow becomes."""
    return {
        "name": workflow.name,
        "version": workflow.version,
        "trigger": workflow.trigger,
        "actions": workflow.actions,
    }


def latest_revision_id(workflow: AutomationWorkflow) -> int | None:
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
    triggered_by: Actor | None = None,
    job: Job | None = None,
    parent: tuple[int, str] | None = None,
) -> tuple[AutomationExecution, bool]:
    """Create a queued execution and send it to a worker after commit.

    Returns ``(execution, created)``; with an ``idempotency_key`` or a schedule slot already used
    for this workflow, the first execution is returned and nothing new starts. ``triggered_by``
    is kept on the execution; a person's (a user, an API token) is also put in the audit trail.
    ``parent`` (execution id, step id) links a run started by another's run_workflow step.
    The workflow's ``overlap_policy`` applies (overlap.py): with ``cancel_new`` the execution
    is created already cancelled. Raises OverlapSkipped under ``skip``.
    """
    if idempotency_key:
        first = AutomationExecution.objects.filter(
            workflow=workflow, idempotency_key=idempotency_key
        ).first()
        if first is not None:
            return first, False
    marked = dispatch_mark(timezone.now())
    attributes = {"workflow.id": workflow.pk, "workflow.trigger.type": trigger_type}
    try:
        with (
            span(f"trigger {trigger_type}", kind=SpanKind.PRODUCER, attributes=attributes),
            transaction.atomic(),
        ):
            overlap = overlap_apply(
                workflow=workflow,
                triggered_by=triggered_by,
                marked=marked,
                now=timezone.now(),
                live=job is None,
            )
            for under_way in AutomationExecution.objects.filter(pk__in=overlap.cancel):
                try:
                    execution_cancel(execution=under_way, actor=overlap.canceller)
                except ExecutionConflict:
                    continue  # it finished since it was listed
            execution = AutomationExecution.objects.create(
                workflow=workflow,
                trigger_type=trigger_type,
                trigger_payload=payload if payload is not None else {},
                definition=execution_definition(workflow),
                workflow_version=workflow.version,
                revision_id=latest_revision_id(workflow),
                context=_article_version_pin(context_for(payload, context)),
                idempotency_key=idempotency_key or "",
                steps_total=len(workflow.actions),
                scheduled_for=scheduled_for,
                traceparent=traceparent(),
                triggered_by=triggered_by.as_dict() if triggered_by else {},
                job=job,
                parent_execution_id=parent[0] if parent else None,
                parent_step_id=parent[1] if parent else "",
                **overlap.fields,
            )
            span_set(workflow__execution__id=execution.pk)
            if triggered_by is not None and triggered_by.is_person:
                _audit(triggered_by, "triggered", execution, workflow=workflow.name)
            if overlap.dispatch:
                # A schedule's live slot is time-critical: its run goes ahead of any backlog. A
                # backfill's (a job's) is not: it waits its turn behind live work.
                control = scheduled_for is not None and job is None
                execution_dispatch(execution.pk, marked=marked, control=control)
    except IntegrityError:
        # A concurrent request with the same key, or a second fire of the same slot, won.
        existing = AutomationExecution.objects.filter(workflow=workflow)
        if idempotency_key:
            return existing.get(idempotency_key=idempotency_key), False
        if scheduled_for is not None:
            return existing.get(scheduled_for=scheduled_for), False
        raise
    return execution, True


def _audit(actor: Actor | None, action: str, execution: AutomationExecution, **detail: Any) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type="execution",
        object_id=execution.pk,
        detail={"workflow_id": execution.workflow_id, **detail},
    )


def execution_parent_wake(*, parent_id: int) -> None:
    """A run started by ``parent_id``'s run_workflow step finished (called in the transaction
    that finishes it): a parent waiting for it goes on now rather than at its next look."""
    now = timezone.now()
    if AutomationExecution.objects.filter(pk=parent_id, status=ExecutionStatus.WAITING).update(
        next_attempt_at=now
    ):
        EXECUTIONS.wake([parent_id], now)


def execution_steps_cancel(*, execution_id: int, now: datetime) -> int:
    """Mark the execution's steps still under way (running, retrying, waiting) cancelled: a
    finished execution has none. Returns how many."""
    return AutomationExecutionStep.objects.filter(
        execution_id=execution_id, status__in=STEP_UNDER_WAY_STATUSES
    ).update(status=StepStatus.CANCELLED, completed_at=now, error_message="Cancelled.")


def execution_cancel(
    *, execution: AutomationExecution, actor: Actor | None = None
) -> AutomationExecution:
    """Cancel an execution that is queued, waiting, or whose worker is presumed dead (its lease
    expired) now; ask a running one to stop before its next step. The ``actor`` is audited.

    Raises ExecutionConflict when the execution already finished.
    """
    with transaction.atomic():
        locked = AutomationExecution.objects.select_for_update().get(pk=execution.pk)
        if locked.status in FINISHED_STATUSES:
            raise ExecutionConflict(f"Execution {locked.pk} already {locked.status}.")
        _audit(actor, "cancelled", locked, status_before=locked.status)
        now = timezone.now()
        locked.cancel_requested = True
        lease = locked.lease_expires_at
        dead = locked.status == ExecutionStatus.RUNNING and lease is not None and lease < now
        if locked.status == ExecutionStatus.RUNNING and not dead:
            locked.save(update_fields=["cancel_requested"])
            return locked
        if dead:
            # A late result of the worker presumed dead is refused from here on.
            locked.attempt += 1
        locked.status = ExecutionStatus.CANCELLED
        locked.completed_at = now
        locked.error_message = "Cancelled."
        locked.next_attempt_at = None
        locked.lease_expires_at = None
        locked.locked_by = ""
        locked.wall_time_ms = max(0, int((now - locked.created_at).total_seconds() * 1000))
        locked.execution_time_ms = (
            locked.steps.aggregate(total=Sum("execution_time_ms"))["total"] or 0
        )
        locked.save()
        execution_steps_cancel(execution_id=locked.pk, now=now)
        if dead and locked.concurrency_limited:
            _limited_wake_next(locked.workflow_id, now)
    return locked


def _limited_wake_next(workflow_id: int, now: datetime) -> None:
    waiting = (
        AutomationExecution.objects.filter(executions_due(now), workflow_id=workflow_id)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    if waiting is not None:
        EXECUTIONS.wake([waiting], now)


def execution_retry(
    *, execution: AutomationExecution, actor: Actor | None = None
) -> AutomationExecution:
    """Resume a failed execution from its failed step, keeping the outputs of completed steps
    and every earlier attempt of the failed one (the resumed run adds an attempt). The failed
    run leaves the workflow's counters; the resumed one counts when it finishes. The ``actor``
    is audited.

    Raises ExecutionConflict unless the execution failed.
    """
    with transaction.atomic():
        locked = AutomationExecution.objects.select_for_update().get(pk=execution.pk)
        if locked.status != ExecutionStatus.FAILED:
            raise ExecutionConflict(
                f"Only failed executions can be retried; execution {locked.pk} is {locked.status}."
            )
        _audit(actor, "retried", locked, error=locked.error_message[:500])
        actions = locked.definition.get("actions", [])
        resumable = [
            step.pk
            for step in locked.steps.filter(
                status__in=[StepStatus.FAILED, *STEP_UNDER_WAY_STATUSES]
            )
            if step.status != StepStatus.FAILED
            or not (
                step.step_index < len(actions)
                and actions[step.step_index].get("continue_on_failure")
            )
        ]
        locked.steps.filter(pk__in=resumable).update(status=StepStatus.RETRYING)
        workflow_counters_remove_failure(
            workflow_id=locked.workflow_id, active_ms=locked.execution_time_ms or 0
        )
        locked.status = ExecutionStatus.QUEUED
        locked.error_message = ""
        locked.completed_at = None
        locked.execution_time_ms = None
        locked.wall_time_ms = None
        locked.next_attempt_at = None
        locked.deliveries = 0
        locked.cancel_requested = False
        locked.dispatched_at = dispatch_mark(timezone.now())
        locked.save()
        execution_dispatch(locked.pk, marked=locked.dispatched_at)
    return locked


def execution_decide(
    *,
    execution: AutomationExecution,
    approved: bool,
    user: Any,
    comment: str = "",
    actor: Actor | None = None,
    fields: dict[str, Any] | None = None,
    via: str = "api",
    link: LinkClaim | None = None,
) -> AutomationExecution:
    """Count ``user``'s vote on the approval step the execution waits on (approve, with
    ``fields`` edited, or reject); once the votes decide (workflows/approvals.py), resume it.
    Every vote is audited. ``link``: the vote comes through a signed link, which is then spent.

    Raises ExecutionConflict unless the execution waits on an undecided approval step (the
    link's step, for a link), and ApprovalRefused for a user who may not decide (or has), a link
    used already, or fields the step does not declare.
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
        if link is not None and link.step_id != step.step_id:
            raise ExecutionConflict(f"Step {link.step_id!r} of execution {locked.pk} is decided.")
        if step.output.get("decision"):
            raise ExecutionConflict(f"Execution {locked.pk} was already {step.output['decision']}.")
        spent = list(step.output.get("links_used") or [])
        if link is not None and link.nonce in spent:
            raise ApprovalRefused("This link was used already: each link decides once.", "conflict")
        now = timezone.now()
        step.output = vote_apply(
            step.output,
            step.input,
            user=user,
            approved=approved,
            comment=comment,
            edits=fields,
            via=via,
            at=now.isoformat(),
        )
        if link is not None:
            step.output["links_used"] = [*spent, link.nonce]
        step.save(update_fields=["output"])
        decision = step.output.get("decision")
        detail: dict[str, Any] = {"step_id": step.step_id, "comment": comment, "via": via}
        if fields:
            detail["fields"] = sorted(fields)
        if decision is None:
            vote = "approve" if approved else "reject"
            _audit(actor, "voted", locked, vote=vote, by=user.get_username(), **detail)
            return locked
        _audit(actor, decision, locked, by=user.get_username(), **detail)
        locked.status = ExecutionStatus.QUEUED
        locked.next_attempt_at = None
        locked.dispatched_at = dispatch_mark(now)
        locked.save(update_fields=["status", "next_attempt_at", "dispatched_at"])
        execution_dispatch(locked.pk, marked=locked.dispatched_at)
    return locked
