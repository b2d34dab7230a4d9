"""``approval``: pauses the execution until it is approved or rejected, without holding a
worker. Who decides, how votes count, edited fields and decision links: workflows/approvals.py.
Deciding: the dashboard, ``POST executions/{id}/approve|reject``, or a personal signed link sent
with the notification (Slack, Telegram, email). After ``escalate.after_s`` without a decision,
more approvers are added and told; after ``timeout_s`` the step decides by itself."""

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from integrations.models import IntegrationConnection
from workflows.actions.base import Action, ActionError, StepRun, StepWaiting
from workflows.actions.registry import action_get
from workflows.approvals import (
    FIELD_MAX_LENGTH,
    approvers_configured,
    approvers_escalated,
    approvers_of,
    buttons_make,
    fields_edited,
    links_text,
)

MAX_TIMEOUT_S = 30 * 86400
NAMES = {
    "type": "array",
    "items": {"type": "string", "minLength": 1, "maxLength": 150},
    "maxItems": 100,
}
WHO = {
    "users": {**NAMES, "description": "Usernames."},
    "groups": {**NAMES, "description": "Group names: each member may decide."},
}
NOTIFY = {
    "type": "object",
    "description": "Tell the approvers: the params of a notify step (channel, connection, "
    "recipients, subject, severity) without message.",
}


class ApprovalAction(Action):
    type = "approval"
    label = "Approval"
    group = "flow"
    description = (
        "Pauses the execution until it is approved or rejected: by the approvers it names "
        "(users, groups; quorum approvals approve, one rejection rejects) or, if it names none, "
        "by any staff member. Approvers decide in the dashboard, with POST "
        "executions/{id}/approve|reject, or through the personal single-use link the "
        "notification carries; when approving they may edit the declared fields, which later "
        "steps read as steps.<id>.fields. Escalates to more approvers after escalate.after_s, "
        "decides by itself after timeout_s. A rejection fails the step."
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
            "approvers": {
                "type": "object",
                "additionalProperties": False,
                "properties": WHO,
                "description": "Who may decide. Without it, any staff member, alone.",
            },
            "quorum": {
                "type": "integer",
                "minimum": 1,
                "maximum": 100,
                "default": 1,
                "description": "How many approvals approve (one rejection always rejects).",
            },
            "fields": {
                "type": "object",
                "maxProperties": 20,
                "additionalProperties": {"type": "string", "maxLength": FIELD_MAX_LENGTH},
                "description": "Values an approver may edit when approving, with their "
                "defaults (templates allowed), e.g. the share message. Later steps read "
                "{{ steps.<id>.fields.<name> }}.",
            },
            "notify": NOTIFY,
            "links": {
                "type": "boolean",
                "default": True,
                "description": "Add each approver's personal, single-use decision link to the "
                "notification.",
            },
            "escalate": {
                "type": "object",
                "additionalProperties": False,
                "required": ["after_s"],
                "properties": {
                    "after_s": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_TIMEOUT_S,
                        "description": "Escalate after this many seconds without a decision.",
                    },
                    **WHO,
                    "notify": {
                        **NOTIFY,
                        "description": "Tell the added approvers (default: the step's notify).",
                    },
                },
                "description": "Add approvers (users, groups) when nobody decided in time, and "
                "tell them.",
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
            "approvers": {"groups": ["editors"]},
            "quorum": 1,
            "fields": {"share_message": "New on the blog: {{ article.title }}"},
            "notify": {"channel": "slack", "connection": 3},
            "escalate": {"after_s": 14400, "groups": ["chief-editors"]},
            "timeout_s": 86400,
            "timeout_outcome": "reject",
        },
    }

    def params_check(self, params: dict[str, Any], *, rendered: bool) -> dict[str, Any]:
        """Each ``notify`` is checked as the params of a notify step."""
        errors: dict[str, Any] = {}
        for path, notify in (
            ("notify", params.get("notify")),
            ("escalate", (params.get("escalate") or {}).get("notify")),
        ):
            if notify is None:
                continue
            try:
                action_get("notify").validate({**notify, "message": "approval"}, rendered=rendered)
            except serializers.ValidationError as exc:
                errors[path] = exc.detail if path == "notify" else {"notify": exc.detail}
        return errors

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        state = dict(step.state)
        if state.get("decision") == "approved":
            return _outcome(state, params, approved=True)
        if state.get("decision") == "rejected":
            by, comment = state.get("decided_by", "someone"), state.get("comment", "")
            raise ActionError(
                f"Rejected by {by}" + (f": {comment}" if comment else "."),
                output=_outcome(state, params, approved=False),
            )
        now = timezone.now()
        _quorum_check(params)
        deadline = _moment(state, "deadline", params.get("timeout_s"), now)
        if deadline is not None and now >= deadline:
            if params["timeout_outcome"] == "approve":
                return _outcome({**state, "timed_out": True}, params, approved=True)
            raise ActionError(f"No decision within {params['timeout_s']} s: rejected by timeout.")
        if params.get("notify") and not state.get("notified"):
            state.update(_notify(params["notify"], params, step, approvers_of(params, state)))
        escalate = params.get("escalate") or {}
        escalate_at = _moment(state, "escalate_at", escalate.get("after_s"), now)
        if escalate_at is not None and not state.get("escalated") and now >= escalate_at:
            state["escalated"] = True
            notify = escalate.get("notify") or params.get("notify")
            if notify:
                told = _notify(notify, params, step, approvers_escalated(params), "-escalation")
                state["escalation_notify_error"] = told.get("notify_error")
        state.update(
            message=params["message"],
            deadline=deadline.isoformat() if deadline else None,
            escalate_at=escalate_at.isoformat() if escalate_at else None,
        )
        if params.get("fields"):
            state["fields"] = fields_edited(params, state.get("fields"))
        pending = [
            moment
            for moment in (deadline, None if state.get("escalated") else escalate_at)
            if moment is not None
        ]
        raise StepWaiting(until=min(pending, default=None), state=state, reason="approval")


def _quorum_check(params: dict[str, Any]) -> None:
    """A quorum more than everyone who could ever decide would wait for ever: fail at once."""
    if not approvers_configured(params, {"escalated": True}):
        return
    possible = approvers_of(params, {"escalated": True})
    if params["quorum"] > len(possible):
        names = ", ".join(user.get_username() for user in possible) or "nobody"
        raise ActionError(
            f"quorum {params['quorum']} needs as many approvers; the step's users and groups "
            f"name {len(possible)} active user(s): {names}."
        )


def _moment(state: dict[str, Any], key: str, after_s: int | None, now: datetime) -> datetime | None:
    """A moment fixed when the step first ran: its deadline or its escalation."""
    if state.get(key):
        return datetime.fromisoformat(state[key])
    return now + timedelta(seconds=after_s) if after_s else None


def _notify(
    notify_params: dict[str, Any],
    params: dict[str, Any],
    step: StepRun,
    approvers: list[Any],
    key: str = "",
) -> dict[str, Any]:
    """Tell the approvers once, with their links; a failed notification is recorded, not fatal.
    ``key`` tells a second notification of the step (the escalation) from the first, for the
    effect ledger."""
    message = params["message"]
    if params.get("links", True) and approvers:
        links = links_text(execution_id=step.execution_id, step_id=step.step_id, users=approvers)
        message = f"{message}\n\n{links}"
    sender = replace(step, step_id=f"{step.step_id}{key}") if key else step
    sent = {**notify_params, "message": message}
    if _slack_app(notify_params):
        sent["buttons"] = buttons_make(execution_id=step.execution_id, step_id=step.step_id)
    try:
        action_get("notify").run(sent, sender)
    except ActionError as exc:
        return {"notified": True, "notify_error": exc.message}
    return {"notified": True}


def _slack_app(notify_params: dict[str, Any]) -> bool:
    """Whether the notification goes to a Slack app that can take button clicks back: a token
    (the Web API) and the app's signing secret."""
    if notify_params.get("channel") != "slack" or not notify_params.get("connection"):
        return False
    connection = IntegrationConnection.objects.filter(
        pk=notify_params["connection"], platform="slack"
    ).first()
    credentials = connection.credentials if connection is not None else {}
    return bool(credentials.get("token") and credentials.get("signing_secret"))


def _outcome(state: dict[str, Any], params: dict[str, Any], *, approved: bool) -> dict[str, Any]:
    keep = ("decided_by", "decided_at", "comment", "timed_out", "message", "votes")
    outcome = {"approved": approved, **{key: state[key] for key in keep if key in state}}
    if params.get("fields"):
        outcome["fields"] = fields_edited(params, state.get("fields"))
    return outcome
