"""Composition: workflows that start workflows.

The ``run_workflow`` action starts another workflow as a child of the running execution — by id
or name, with a templated payload — and either waits for its result (holding no worker) or goes
on at once. The child is linked to its parent (``parent_execution``, ``parent_step_id``) and
started by ``triggered_by`` kind ``workflow``; its ``trigger_type`` is ``workflow``. A step
redelivered after a crash finds the child it already started (the child's idempotency key is the
step's), so a child is never started twice. Chains stop at TRIGGER_MAX_DEPTH. A waiting parent
is woken by its child's finish, and looks again every CHILD_LOOK_S in any case (a child that
finishes before its parent has paused cannot be missed).

A workflow trigger ``{"type": "workflow", "workflow": id, "status": [...]}`` starts a workflow
when a run of the one it follows finishes with one of those outcomes (any, without ``status``):
heard from the kernel's outbox (``execution.finished``), so a crash loses nothing, and once per
finished run (the idempotency key names it).
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from workflows.actions.base import Action, ActionError, StepRun, StepWaiting
from workflows.models import (
    ActorKind,
    AutomationExecution,
    AutomationWorkflow,
    ExecutionStatus,
    TriggerType,
)
from workflows.services.audit import Actor
from workflows.services.executions import execution_create
from workflows.services.overlap import OverlapSkipped
from workflows.trigger_checks import OUTCOMES

logger = logging.getLogger(__name__)

MAX_TIMEOUT_S = 30 * 86400
DEFAULT_TIMEOUT_S = 3600
CHILD_LOOK_S = 30


def _workflow(reference: Any) -> AutomationWorkflow:
    """The workflow named by id (a number, or digits) or by its exact name."""
    if isinstance(reference, int) or (isinstance(reference, str) and reference.isdigit()):
        found = AutomationWorkflow.objects.filter(pk=int(reference)).first()
    else:
        named = list(AutomationWorkflow.objects.filter(name=str(reference))[:2])
        if len(named) > 1:
            raise ActionError(f"Two workflows are named {reference!r}: name it by id.")
        found = named[0] if named else None
    if found is None:
        raise ActionError(f"No workflow {reference!r}.")
    if not found.is_active:
        raise ActionError(f"Workflow {found.name!r} (id {found.pk}) is inactive.")
    return found


def _outcome(child: AutomationExecution) -> dict[str, Any]:
    return {
        "execution_id": child.pk,
        "status": child.status,
        "steps": child.context.get("steps", {}) if child.is_finished else {},
    }


class RunWorkflowAction(Action):
    type = "run_workflow"
    label = "Run a workflow"
    group = "flow"
    description = (
        "Starts another workflow (by id or name) with a payload, as a child of this run, and "
        "waits for its result — its steps' outputs, under steps.<this step>.steps — or, with "
        "wait false, goes on at once. A failed or cancelled child fails this step."
    )
    # Starting a run is an effect; the child's idempotency key (the step's) makes it once only.
    side_effects = True
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["workflow"],
        "properties": {
            "workflow": {
                "type": ["integer", "string"],
                "minLength": 1,
                "maxLength": 200,
                "minimum": 1,
                "x-template": True,
                "description": "The workflow to run: its id, or its exact name.",
            },
            "payload": {
                "type": "object",
                "default": {},
                "x-template": True,
                "description": "What the child sees as {{ trigger }}.",
            },
            "wait": {
                "type": "boolean",
                "default": True,
                "description": "Wait for the child to finish (holding no worker), or go on.",
            },
            "timeout_s": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_TIMEOUT_S,
                "default": DEFAULT_TIMEOUT_S,
                "description": "With wait: fail this step if the child has not finished by "
                "then (the child goes on by itself).",
            },
        },
    }
    example = {
        "id": "share",
        "type": "run_workflow",
        "params": {
            "workflow": "Share an article",
            "payload": {"article_id": "{{ trigger.article_id }}"},
            "wait": True,
            "timeout_s": 600,
        },
    }

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        now = timezone.now()
        if step.state.get("child_id"):
            child = AutomationExecution.objects.filter(pk=step.state["child_id"]).first()
            if child is None:
                raise ActionError(f"Child execution {step.state['child_id']} was deleted.")
            return self._follow(child, datetime.fromisoformat(step.state["deadline"]), now)
        child = self._start(params, step)
        if not params["wait"]:
            return _outcome(child)
        deadline = now + timedelta(seconds=params["timeout_s"])
        return self._follow(child, deadline, now)

    def _start(self, params: dict[str, Any], step: StepRun) -> AutomationExecution:
        workflow = _workflow(params["workflow"])
        depth = step.depth + 1
        if depth > settings.TRIGGER_MAX_DEPTH:
            raise ActionError(
                f"Workflows started by workflows nest at most {settings.TRIGGER_MAX_DEPTH} deep "
                "(TRIGGER_MAX_DEPTH): not starting another."
            )
        parent_name = str(step.context.get("workflow", {}).get("name", ""))
        try:
            child, _ = execution_create(
                workflow=workflow,
                trigger_type=TriggerType.WORKFLOW,
                payload=params["payload"],
                idempotency_key=f"parent-{step.idempotency_key}",
                context={"depth": depth},
                triggered_by=Actor(ActorKind.WORKFLOW, parent_name, step.execution_id),
                parent=(step.execution_id, step.step_id),
            )
        except OverlapSkipped as exc:
            raise ActionError(f"Workflow {workflow.name!r} did not start: {exc}") from None
        return child

    def _follow(
        self, child: AutomationExecution, deadline: datetime, now: datetime
    ) -> dict[str, Any]:
        outcome = _outcome(child)
        if child.status == ExecutionStatus.COMPLETED:
            return outcome
        if child.is_finished:
            raise ActionError(
                f"Child execution {child.pk} {child.status}: {child.error_message}",
                output=outcome,
            )
        if now >= deadline:
            raise ActionError(
                f"Child execution {child.pk} did not finish in time; it goes on by itself.",
                output=outcome,
            )
        raise StepWaiting(
            until=min(deadline, now + timedelta(seconds=CHILD_LOOK_S)),
            state={"child_id": child.pk, "deadline": deadline.isoformat()},
            reason="workflow",
        )


# --- workflow triggers: a workflow started by another's outcome -------------------------------


def _followers(workflow_id: int) -> Any:
    return AutomationWorkflow.objects.filter(
        is_active=True, trigger_type=TriggerType.WORKFLOW, trigger__workflow=workflow_id
    ).exclude(pk=workflow_id)


def hears_execution_finished(*, workflow_id: int, **_: Any) -> bool:
    """Whether a workflow follows this one's runs (one read, in the finishing transaction)."""
    return _followers(workflow_id).exists()


def on_execution_finished(*, execution_id: int, workflow_id: int, status: str, **_: Any) -> None:
    """Start each active workflow whose trigger follows this workflow's runs with this status.
    Its ``trigger`` is ``{"workflow": {"id", "name"}, "execution": {"id", "status", "error",
    "steps"}}``; each follower starts once per finished run, however often this is heard."""
    finished = AutomationExecution.objects.filter(pk=execution_id).select_related("workflow")
    execution = finished.first()
    if execution is None:
        return
    depth = int(execution.context.get("depth", 0)) + 1
    payload = {
        "workflow": {"id": workflow_id, "name": execution.workflow.name},
        "execution": {
            "id": execution_id,
            "status": status,
            "error": execution.error_message,
            "steps": execution.context.get("steps", {}),
        },
    }
    for follower in _followers(workflow_id).order_by("pk"):
        if status not in follower.trigger.get("status", OUTCOMES):
            continue
        if depth > settings.TRIGGER_MAX_DEPTH:
            logger.warning(
                "workflow %s not started after execution %s: chains nest at most %s deep",
                follower.pk,
                execution_id,
                settings.TRIGGER_MAX_DEPTH,
            )
            continue
        try:
            execution_create(
                workflow=follower,
                trigger_type=TriggerType.WORKFLOW,
                payload=payload,
                idempotency_key=f"after-{execution_id}",
                context={"depth": depth},
                triggered_by=Actor(ActorKind.WORKFLOW, execution.workflow.name, execution_id),
            )
        except OverlapSkipped as exc:
            logger.warning(
                "workflow %s not started after execution %s: %s", follower.pk, execution_id, exc
            )
