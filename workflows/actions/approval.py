"""``approval``: pauses the execution until a staff member approves or rejects it (in the
dashboard or with ``POST executions/{id}/approve|reject``), optionally notifying through an alert
channel first and deciding by itself after ``timeout_s``."""

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from workflows.actions.base import Action, ActionError, StepRun, StepWaiting
from workflows.actions.registry import action_get

MAX_TIMEOUT_S = 30 * 86400


class ApprovalAction(Action):
    type = "approval"
    label = "Approval"
    group = "flow"
    description = (
        "Pauses the execution until a staff member approves or rejects it (dashboard, or POST "
        "executions/{id}/approve|reject), optionally notifying the approvers first and deciding "
        "by itself after timeout_s. A rejection fails the step."
    )
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "message": {
                "type": "string",
                "minLength": 1,
                "maxLength": 5000,
                "default": "Approval needed",
                "x-template": True,
                "description": "What the approvers are asked.",
            },
            "notify": {
                "type": "object",
                "description": "Tell the approvers first: the params of a notify step (channel, "
                "connection, recipients, subject, severity) without message.",
            },
            "timeout_s": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_TIMEOUT_S,
                "description": "Decide by itself after this many seconds (at most 30 days); "
                "without it the execution waits for a person.",
            },
            "timeout_outcome": {
                "type": "string",
                "enum": ["approve", "reject"],
                "default": "reject",
                "description": "The decision taken when timeout_s passes.",
            },
        },
    }
    example = {
        "id": "editor_ok",
        "type": "approval",
        "params": {
            "message": "Publish '{{ article.title }}'?",
            "notify": {"channel": "in_app"},
            "timeout_s": 86400,
            "timeout_outcome": "reject",
        },
    }

    def params_check(self, params: dict[str, Any], *, rendered: bool) -> dict[str, Any]:
        """``notify`` is checked as the params of a notify step."""
        if "notify" not in params:
            return {}
        try:
            action_get("notify").validate(
                {**params["notify"], "message": "approval"}, rendered=rendered
            )
        except serializers.ValidationError as exc:
            return {"notify": exc.detail}
        return {}

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        state = dict(step.state)
        if state.get("decision") == "approved":
            return _outcome(state, approved=True)
        if state.get("decision") == "rejected":
            by, comment = state.get("decided_by", "someone"), state.get("comment", "")
            raise ActionError(
                f"Rejected by {by}" + (f": {comment}" if comment else "."),
                output=_outcome(state, approved=False),
            )
        now = timezone.now()
        deadline = _deadline(params, state, now)
        if deadline is not None and now >= deadline:
            if params["timeout_outcome"] == "approve":
                return _outcome({**state, "timed_out": True}, approved=True)
            raise ActionError(f"No decision within {params['timeout_s']} s: rejected by timeout.")
        if params.get("notify") and not state.get("notified"):
            state.update(_notify(params, step))
        state.update(message=params["message"], deadline=deadline.isoformat() if deadline else None)
        raise StepWaiting(until=deadline, state=state, reason="approval")


def _deadline(params: dict[str, Any], state: dict[str, Any], now: datetime) -> datetime | None:
    if state.get("deadline"):
        return datetime.fromisoformat(state["deadline"])
    if params.get("timeout_s"):
        return now + timedelta(seconds=params["timeout_s"])
    return None


def _notify(params: dict[str, Any], step: StepRun) -> dict[str, Any]:
    """Tell the approvers once; a failed notification is recorded, not fatal."""
    notify = action_get("notify")
    try:
        notify.run({**params["notify"], "message": params["message"]}, step)
    except ActionError as exc:
        return {"notified": True, "notify_error": exc.message}
    return {"notified": True}


def _outcome(state: dict[str, Any], *, approved: bool) -> dict[str, Any]:
    keep = ("decided_by", "decided_at", "comment", "timed_out", "message")
    return {"approved": approved, **{key: state[key] for key in keep if key in state}}
