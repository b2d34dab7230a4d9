"""Starting workflows from triggers: every active workflow listening for a trigger gets one
execution, created in the caller's transaction and sent to a worker after it commits."""

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from workflows.models import ActorKind, AutomationExecution, AutomationWorkflow, TriggerType
from workflows.services.audit import Actor
from workflows.services.executions import execution_create
from workflows.services.overlap import OverlapSkipped

logger = logging.getLogger(__name__)


class TriggerDepthExceeded(Exception):
    """A chain of workflows triggering workflows went deeper than TRIGGER_MAX_DEPTH."""


def trigger_fire(
    *,
    trigger_type: str,
    payload: dict[str, Any],
    context: dict[str, Any] | None = None,
    predicate: Callable[[AutomationWorkflow], bool] | None = None,
    depth: int = 0,
    exclude_workflow_id: int | None = None,
    match: Q | None = None,
    idempotency_key: str | None = None,
    triggered_by: Actor | None = None,
    all_skipped_raises: bool = False,
) -> list[AutomationExecution]:
    """Create an execution of every active workflow whose trigger type is ``trigger_type`` and
    which ``predicate`` accepts. ``depth`` is how many triggers deep this chain already is; a
    workflow never re-triggers itself (``exclude_workflow_id``). ``match`` narrows the workflows
    in the database; with an ``idempotency_key`` seen before, each workflow's first execution is
    returned instead of a new one. ``triggered_by`` defaults to the event named by the trigger
    type. A workflow whose overlap policy skips the run starts nothing, with a warning logged;
    with ``all_skipped_raises``, OverlapSkipped is raised when every listening workflow skipped
    (so an API caller learns why nothing started). Returns the executions."""
    if depth > settings.TRIGGER_MAX_DEPTH:
        raise TriggerDepthExceeded(
            f"Trigger chain deeper than {settings.TRIGGER_MAX_DEPTH}; not starting more workflows."
        )
    workflows = AutomationWorkflow.objects.filter(is_active=True, trigger_type=trigger_type)
    if match is not None:
        workflows = workflows.filter(match)
    if exclude_workflow_id is not None:
        workflows = workflows.exclude(pk=exclude_workflow_id)
    actor = triggered_by or Actor(ActorKind.EVENT, str(trigger_type))
    executions = []
    skipped: list[OverlapSkipped] = []
    for workflow in workflows.order_by("pk"):
        if predicate is not None and not predicate(workflow):
            continue
        try:
            execution, _ = execution_create(
                workflow=workflow,
                trigger_type=trigger_type,
                payload=payload,
                context={**(context or {}), "depth": depth},
                idempotency_key=idempotency_key,
                triggered_by=actor,
            )
        except OverlapSkipped as exc:
            logger.warning(
                "workflow %s: %s trigger not started. %s", workflow.pk, trigger_type, exc
            )
            skipped.append(exc)
            continue
        executions.append(execution)
    if all_skipped_raises and skipped and not executions:
        raise skipped[0]
    return executions


def event_emit(
    *, name: str, payload: dict[str, Any], idempotency_key: str | None = None
) -> list[AutomationExecution]:
    """Start every active workflow whose trigger is ``{"type": "event", "event": name}``, with the
    payload as ``trigger`` in its context. Returns the executions (none when nobody listens).
    Raises OverlapSkipped when every listener's overlap policy skipped the run."""
    with transaction.atomic():
        return trigger_fire(
            trigger_type=TriggerType.EVENT,
            payload=payload,
            match=Q(trigger__event=name),
            idempotency_key=idempotency_key,
            triggered_by=Actor(ActorKind.EVENT, name),
            all_skipped_raises=True,
        )
