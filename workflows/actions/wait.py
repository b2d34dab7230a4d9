"""``wait``: pauses the execution for a duration or until a time, holding no worker."""

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from workflows.actions.base import Action, StepRun, StepWaiting, Templated
from workflows.templating import has_template

MAX_WAIT_S = 30 * 86400


class WaitParams(serializers.Serializer):
    seconds = Templated(
        serializers.FloatField(min_value=0, max_value=MAX_WAIT_S), required=False, default=None
    )
    until = Templated(serializers.CharField(max_length=64), required=False, default=None)

    def validate_until(self, until: str | None) -> str | None:
        if until is None or (has_template(until) and not self.context.get("rendered")):
            return until
        if parse_datetime(until) is None:
            raise serializers.ValidationError("Must be an ISO 8601 date and time.")
        return until

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if (attrs.get("seconds") is None) == (attrs.get("until") is None):
            raise serializers.ValidationError("Give either 'seconds' or 'until'.")
        return attrs


class WaitAction(Action):
    type = "wait"
    label = "Wait"
    side_effects = False
    params_serializer = WaitParams

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        now = timezone.now()
        resume_at = _resume_at(params, step, now)
        if now >= resume_at:
            return {"waited_until": resume_at.isoformat()}
        raise StepWaiting(
            until=resume_at, state={"resume_at": resume_at.isoformat()}, reason="wait"
        )


def _resume_at(params: dict[str, Any], step: StepRun, now: datetime) -> datetime:
    """Fixed at the first run: a resumed wait does not start counting again."""
    if step.state.get("resume_at"):
        return datetime.fromisoformat(step.state["resume_at"])
    if params.get("until") is not None:
        until = parse_datetime(params["until"])
        assert until is not None  # validated
        return until if timezone.is_aware(until) else timezone.make_aware(until)
    return now + timedelta(seconds=float(params["seconds"]))
