"""``orchestrate``: runs an API orchestration as a workflow step, with its result in the context."""

from typing import Any

from rest_framework import serializers

from orchestration.models import APIOrchestration, RunStatus
from orchestration.services import (
    OrchestrationInactive,
    orchestration_run_create,
    orchestration_run_execute,
)
from workflows.actions.base import Action, ActionError, StepRun


class OrchestrateParams(serializers.Serializer):
    orchestration = serializers.IntegerField(min_value=1)
    input = serializers.JSONField(required=False, default=dict)

    def validate_orchestration(self, orchestration_id: int) -> int:
        if not APIOrchestration.objects.filter(pk=orchestration_id).exists():
            raise serializers.ValidationError(f"Orchestration {orchestration_id} does not exist.")
        return orchestration_id


class OrchestrateAction(Action):
    type = "orchestrate"
    label = "Run an API orchestration"
    params_serializer = OrchestrateParams

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
