"""Starting workflows from triggers: every active workflow listening for a trigger gets one
execution, created in the caller's transaction and sent to a worker after it commits."""

from collections.abc import Callable
from typing import Any

from django.conf import settings

from workflows.models import AutomationExecution, AutomationWorkflow
from workflows.services.executions import execution_create


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
) -> list[AutomationExecution]:
    """Create an execution of every active workflow whose trigger type is ``trigger_type`` and
    which ``predicate`` accepts. ``depth`` is how many triggers deep this chain already is; a
    workflow never re-triggers itself (``exclude_workflow_id``). Returns the new executions."""
    if depth > settings.TRIGGER_MAX_DEPTH:
        raise TriggerDepthExceeded(
            f"Trigger chain deeper than {settings.TRIGGER_MAX_DEPTH}; not starting more workflows."
        )
    workflows = AutomationWorkflow.objects.filter(is_active=True, trigger_type=trigger_type)
    if exclude_workflow_id is not None:
        workflows = workflows.exclude(pk=exclude_workflow_id)
    executions = []
    for workflow in workflows.order_by("pk"):
        if predicate is not None and not predicate(workflow):
            continue
        execution, _ = execution_create(
            workflow=workflow,
            trigger_type=trigger_type,
            payload=payload,
            context={**(context or {}), "depth": depth},
        )
        executions.append(execution)
    return executions
