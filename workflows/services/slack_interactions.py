"""Clicks on an approval's Slack buttons (Slack's interactivity request, ``block_actions``).

The request is verified with the Slack app connection's ``signing_secret``, as Slack signs it.
The clicking Slack user is matched to an active user here by e-mail address (``users.info``), who
then votes as through the API: the same approvers, quorum and audit. The outcome is posted back
to the message's ``response_url`` (visible to the clicker alone), and answered.
"""

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from django.contrib.auth import get_user_model

from integrations.http import OutboundError
from integrations.models import IntegrationConnection
from integrations.platforms.registry import platform_get
from integrations.platforms.slack import Slack
from integrations.ratelimits.throttle import connection_request
from workflows.approvals import BUTTON_APPROVE, BUTTON_REJECT, ApprovalRefused, button_read
from workflows.models import ActorKind, AutomationExecution
from workflows.senders.base import Headers
from workflows.senders.registry import sender_get
from workflows.services.audit import Actor
from workflows.services.executions import ExecutionConflict, execution_decide

logger = logging.getLogger(__name__)


class InteractionRefused(Exception):
    """Not a request Slack signed for this connection (401), or not one we can read (400)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@dataclass(frozen=True)
class Click:
    approved: bool
    execution_id: int
    step_id: str
    slack_user: str
    response_url: str


def slack_interaction(*, connection_id: int, body: bytes, headers: Headers, now: datetime) -> str:
    """Apply the click the request carries and return what it did, in a sentence."""
    connection = IntegrationConnection.objects.filter(pk=connection_id, platform="slack").first()
    secret = (connection.credentials or {}).get("signing_secret") if connection else None
    if connection is None or not secret:
        raise InteractionRefused("No Slack app connection with a signing secret here.", 404)
    refused = sender_get("slack").verify(body=body, headers=headers, secrets=[secret], now=now)
    if refused:
        raise InteractionRefused(refused, 401)
    click = _click(body)
    if click is None:
        return "Nothing to do: not a click on an approval's buttons."
    try:
        reply = _decide(connection, click)
    except (ApprovalRefused, ExecutionConflict) as exc:
        reply = str(exc)
    _tell(connection, click.response_url, reply)
    return reply


def _click(body: bytes) -> Click | None:
    try:
        fields = parse_qs(body.decode(), strict_parsing=True)
        payload = json.loads(fields["payload"][0])
        action = payload["actions"][0]
        slack_user = str(payload["user"]["id"])
    except (UnicodeDecodeError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise InteractionRefused(
            "Expected Slack's form with a block_actions payload.", 400
        ) from exc
    if payload.get("type") != "block_actions" or not isinstance(action, dict):
        return None
    if action.get("action_id") not in (BUTTON_APPROVE, BUTTON_REJECT):
        return None
    try:
        execution_id, step_id = button_read(str(action.get("value", "")))
    except ApprovalRefused as exc:
        raise InteractionRefused(exc.message, 400) from exc
    response_url = payload.get("response_url")
    return Click(
        approved=action["action_id"] == BUTTON_APPROVE,
        execution_id=execution_id,
        step_id=step_id,
        slack_user=slack_user,
        response_url=response_url if isinstance(response_url, str) else "",
    )


def _decide(connection: IntegrationConnection, click: Click) -> str:
    slack = platform_get("slack")
    assert isinstance(slack, Slack)
    email = slack.user_email(connection, click.slack_user)
    users = get_user_model().objects.filter(is_active=True, email__iexact=email) if email else None
    user = users.first() if users is not None and users.count() == 1 else None
    if user is None:
        return (
            "Your Slack account's e-mail address matches no single user here, so the click "
            "decided nothing. Use your personal link instead."
        )
    execution = AutomationExecution.objects.filter(pk=click.execution_id).first()
    if execution is None:
        return "This run no longer exists."
    step = execution.steps.filter(step_id=click.step_id, step_type="approval").first()
    if step is None or step.status != "waiting":
        return "This approval is no longer open: it was decided, or the run ended."
    decided = execution_decide(
        execution=execution,
        approved=click.approved,
        user=user,
        via="slack",
        actor=Actor(ActorKind.USER, user.get_username(), user.pk),
    )
    verb = "approved" if click.approved else "rejected"
    step.refresh_from_db()
    if step.output.get("decision") or decided.status != "waiting":
        return f"{user.get_username()} {verb} execution #{execution.pk}: decided."
    return f"{user.get_username()} {verb} execution #{execution.pk}; more approvals are needed."


def _tell(connection: IntegrationConnection, response_url: str, text: str) -> None:
    """Post the outcome to the clicker (best effort: the vote stands whatever happens here)."""
    if not response_url:
        return
    reply: dict[str, Any] = {"response_type": "ephemeral", "replace_original": False, "text": text}
    try:
        connection_request(connection, "POST", response_url, json=reply, timeout_s=10)
    except OutboundError as exc:
        logger.warning("Slack response_url not reached: %s", exc)
