"""``wait``: pauses the execution for a duration or until a time, holding no worker."""

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from workflows.actions.base import Action, StepRun, StepWaiting

MAX_WAIT_S = 30 * 86400


class WaitAction(Action):
    type = "wait"
    label = "Wait"
    group = "flow"
    description = (
        "Pauses the execution for a number of seconds or until a date and time, holding no "
        "worker; a resumed wait does not start counting again."
    )
    side_effects = False
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "seconds": {
                "type": "number",
                "minimum": 0,
                "maximum": MAX_WAIT_S,
                "x-template": True,
                "description": "How long to wait (at most 30 days).",
            },
            "until": {
                "type": "string",
                "format": "date-time",
                "maxLength": 64,
                "x-template": True,
                "description": "When to go on: an ISO 8601 date and time (UTC unless it says).",
            },
        },
        "oneOf": [{"required": ["seconds"]}, {"required": ["until"]}],
        "x-messages": {"oneOf": "Give either 'seconds' or 'until'."},
    }
    example = {"id": "cool_off", "type": "wait", "params": {"seconds": 3600}}

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
