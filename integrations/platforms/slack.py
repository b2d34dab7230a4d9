"""Slack: an incoming webhook (``webhook_url``) or the Web API (``credentials.token``).

A Slack app connection (a token and ``credentials.signing_secret``) also shows a message's
``data["buttons"]`` as Block Kit buttons; Slack posts the clicks to the interactivity URL, signed
with that secret, and ``user_email`` (``users.info``) tells who clicked.

Incoming webhooks answer 200 ``ok``, or an error status with a text code (400 invalid_payload,
403 action_prohibited, 404 channel_not_found, 410 channel_is_archived, 500 rollup_error); there is
no check without a post, so verify posts a test message. The Web API answers HTTP 200 even when it
fails: ``{"ok": false, "error": "invalid_auth"}``, so ``ok`` decides, not the status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from integrations.http import OutboundResponse, status_retryable
from integrations.platforms.base import (
    TEST_MESSAGE,
    Errors,
    Message,
    Platform,
    SendResult,
    VerifyResult,
    snippet,
)
from integrations.ratelimits.throttle import connection_request

if TYPE_CHECKING:
    from integrations.models import IntegrationConnection

TIMEOUT_S = 10.0
# Web API errors after which trying again later can help.
RETRYABLE_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                    "request_timeout"}  # fmt: skip


class Slack(Platform):
    name = "slack"
    label = "Slack"
    api_root = "https://slack.com/api"
    config_keys = frozenset({"channel"})
    credential_keys = frozenset({"signing_secret"})

    def check_fields(
        self, errors: Errors, credentials: Mapping[str, Any], webhook_url: str,
        config: Mapping[str, Any],
    ) -> None:  # fmt: skip
        if not webhook_url and not credentials.get("token"):
            errors.add("webhook_url", "Set webhook_url (incoming webhook) or credentials.token.")

    def check(self, connection: IntegrationConnection) -> VerifyResult:
        if connection.webhook_url:
            result = self._post_webhook(connection, TEST_MESSAGE)
            return VerifyResult(
                result.ok, "webhook accepted a test message" if result.ok else result.detail
            )
        answer, response = self._call(connection, "auth.test", {})
        if not answer.get("ok"):
            return VerifyResult(False, _error_detail(answer, response))
        who = f"{answer.get('user', '?')} in {answer.get('team', '?')}"
        return VerifyResult(True, f"authenticated as {who}")

    def deliver(self, connection: IntegrationConnection, message: Message) -> SendResult:
        text = _format(message)
        if connection.webhook_url:
            return self._post_webhook(connection, text)
        channel = (connection.config or {}).get("channel")
        if not channel:
            return SendResult(False, None, "config.channel is not set (needed with a token)")
        post: dict[str, Any] = {"channel": channel, "text": text}
        if message.data.get("buttons"):
            post["blocks"] = _blocks(text, message.data["buttons"])
        answer, response = self._call(connection, "chat.postMessage", post)
        if answer.get("ok"):
            return SendResult(True, response.status_code, f"posted to {channel}")
        retryable = (
            status_retryable(response.status_code) or answer.get("error") in RETRYABLE_ERRORS
        )
        return SendResult(False, response.status_code, _error_detail(answer, response), retryable)

    def user_email(self, connection: IntegrationConnection, user_id: str) -> str | None:
        """The e-mail address of a user of the connection's workspace (``users.info``; the app
        needs the ``users:read.email`` scope), or None."""
        # A read method: its arguments go in the query string (Slack takes JSON bodies only for
        # write methods).
        token = connection.credentials.get("token", "")
        response = connection_request(
            connection, "GET", f"{connection.api_base(self.api_root)}/users.info",
            params={"user": user_id}, headers={"Authorization": f"Bearer {token}"},
            timeout_s=TIMEOUT_S,
        )  # fmt: skip
        try:
            answer = response.json()
        except ValueError:
            return None
        user = answer.get("user") if isinstance(answer, dict) and answer.get("ok") else None
        profile = user.get("profile") if isinstance(user, dict) else None
        email = profile.get("email") if isinstance(profile, dict) else None
        return email if isinstance(email, str) and email else None

    def _post_webhook(self, connection: IntegrationConnection, text: str) -> SendResult:
        response = connection_request(
            connection, "POST", connection.webhook_url, json={"text": text}, timeout_s=TIMEOUT_S
        )
        if response.status_code == 200:
            return SendResult(True, 200, "ok")
        detail = f"Slack answered {response.status_code}: {snippet(response) or 'no reason given'}"
        return SendResult(
            False, response.status_code, detail, status_retryable(response.status_code)
        )

    def _call(
        self, connection: IntegrationConnection, method: str, body: dict[str, Any]
    ) -> tuple[dict[str, Any], OutboundResponse]:
        token = connection.credentials.get("token", "")
        response = connection_request(
            connection, "POST", f"{connection.api_base(self.api_root)}/{method}", json=body,
            headers={"Authorization": f"Bearer {token}"}, timeout_s=TIMEOUT_S,
        )  # fmt: skip
        try:
            answer = response.json()
        except ValueError:
            answer = None
        return (answer if isinstance(answer, dict) else {}), response


def _error_detail(answer: dict[str, Any], response: OutboundResponse) -> str:
    if answer.get("error"):
        return f"Slack error: {answer['error']}"
    return f"Slack answered {response.status_code}: {snippet(response) or 'no reason given'}"


def _format(message: Message) -> str:
    title = f"*{message.title}*" if message.title else ""
    link = f"<{message.url}>" if message.url else ""
    return "\n".join(part for part in (title, message.text, link) if part)


def _blocks(text: str, buttons: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The text as a section, then a row of buttons (``text``, ``value``, ``action_id``, and
    ``style`` primary or danger)."""
    elements = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": button["text"]},
            "value": button["value"],
            "action_id": button["action_id"],
            **({"style": button["style"]} if button.get("style") else {}),
        }
        for button in buttons
    ]
    section = {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}
    return [section, {"type": "actions", "elements": elements}]
