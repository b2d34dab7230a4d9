"""``orchestrate``: runs an API orchestration as a workflow step, with its result in the context."""

from typing import Any

from orchestration.models import APIOrchestration, RunStatus
from orchestration.services import (
    OrchestrationInactive,
    orchestration_run_create,
    orchestration_run_execute,
)
from workflows.actions.base import Action, ActionError, StepRun


class OrchestrateAction(Action):
    type = "orchestrate"
    label = "Run an API orchestration"
    group = "data"
    description = (
        "Runs an API orchestration inside the step; its result and per-call outcomes become "
        "the step's output. A failed run fails the step (retryable when a call failed in a "
        "way a later attempt may not)."
    )
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["orchestration"],
        "properties": {
            "orchestration": {
                "type": "integer",
                "minimum": 1,
                "description": "The APIOrchestration to run (id).",
            },
            "input": {
                "default": {},
                "description": "The run's input (any JSON; strings may be templates): calls "
                "see it as input.",
            },
        },
    }
    example = {
        "id": "enrich",
        "type": "orchestrate",
        "params": {"orchestration": 1, "input": {"slug": "{{ article.slug }}"}},
    }

    def params_check(self, params: dict[str, Any], *, rendered: bool) -> dict[str, Any]:
        orchestration_id = params["orchestration"]
        if not APIOrchestration.objects.filter(pk=orchestration_id).exists():
            return {"orchestration": [f"Orchestration {orchestration_id} does not exist."]}
        return {}

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        """Run the orchestration here, in the step; a failed run fails the step, retryable only
        when a call failed in a way a later attempt may not (timeout, 429, 5xx)."""
        orchestration = APIOrchestration.objects.filter(pk=params["orchestration"]).first()
        if orchestration is None:
            raise ActionError(f"Orchestration {params['orchestration']} does not exist.")
        try:
            run = orchestration_run_create(
                orchestration=orchestration, input=params["input"], dispatch=False
            )
        except OrchestrationInactive as exc:
            raise ActionError(str(exc)) from None
        finished = orchestration_run_execute(run_id=run.pk)
        assert finished is not None  # created just now, unqueued: nobody else can claim it
        output = {
            "run_id": finished.pk,
            "status": finished.status,
            "result": finished.result,
            "calls": finished.calls,
        }
        if finished.status != RunStatus.SUCCEEDED:
            raise ActionError(
                f"Orchestration run {finished.pk} failed: {finished.error}",
                retryable=finished.retryable,
                output=output,
            )
        return output
