"""Telegram Bot API: ``credentials.bot_token``, ``config.chat_id``.

Every reply is ``{"ok": true, "result": …}`` or ``{"ok": false, "error_code", "description",
"parameters": {"retry_after"}}``. ``getMe`` proves the token; ``getChat`` proves the bot can see the
configured chat ("chat not found", "bot was blocked" show up there, not in getMe).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from integrations.http import status_retryable
from integrations.platforms.base import (
    Errors,
    Message,
    Platform,
    SendResult,
    VerifyResult,
)
from integrations.ratelimits.throttle import connection_request

if TYPE_CHECKING:
    from integrations.models import IntegrationConnection

TIMEOUT_S = 10.0
TEXT_MAX_CHARS = 4096


class Telegram(Platform):
    name = "telegram"
    label = "Telegram"
    api_root = "https://api.telegram.org"
    credential_keys = frozenset({"bot_token"})
    config_keys = frozenset({"chat_id"})
    key_hints = {"botToken": "bot_token", "chatId": "chat_id", "chat": "chat_id"}

    def check_fields(
        self, errors: Errors, credentials: Mapping[str, Any], webhook_url: str,
        config: Mapping[str, Any],
    ) -> None:  # fmt: skip
        errors.require(credentials, "credentials", "bot_token")
        chat_id = config.get("chat_id")
        if chat_id is not None and not isinstance(chat_id, str | int):
            errors.add("config.chat_id", "Must be a chat id (number) or @channelname.")

    def check(self, connection: IntegrationConnection) -> VerifyResult:
        status, answer = self._call(connection, "getMe", {})
        if not answer.get("ok"):
            return VerifyResult(False, f"getMe: {_error_detail(status, answer)}")
        bot = (answer.get("result") or {}).get("username", "?")
        chat_id = (connection.config or {}).get("chat_id")
        if chat_id in (None, ""):
            return VerifyResult(True, f"bot @{bot}")
        status, answer = self._call(connection, "getChat", {"chat_id": chat_id})
        if not answer.get("ok"):
            return VerifyResult(False, f"bot @{bot}; getChat: {_error_detail(status, answer)}")
        chat = answer.get("result") or {}
        title = chat.get("title") or chat.get("username") or chat.get("id")
        return VerifyResult(True, f"bot @{bot} can reach chat {title}")

    def deliver(self, connection: IntegrationConnection, message: Message) -> SendResult:
        chat_id = message.data.get("chat_id") or (connection.config or {}).get("chat_id")
        if chat_id in (None, ""):
            return SendResult(False, None, "config.chat_id is not set")
        body = {"chat_id": chat_id, "text": message.plain()[:TEXT_MAX_CHARS]}
        status, answer = self._call(connection, "sendMessage", body)
        if answer.get("ok"):
            message_id = (answer.get("result") or {}).get("message_id")
            return SendResult(True, status, f"sent message {message_id}")
        code = answer.get("error_code") or status
        return SendResult(False, status, _error_detail(status, answer), status_retryable(code))

    def _call(
        self, connection: IntegrationConnection, method: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        token = connection.credentials.get("bot_token", "")
        url = f"{connection.api_base(self.api_root)}/bot{token}/{method}"
        response = connection_request(connection, "POST", url, json=body, timeout_s=TIMEOUT_S)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            text = response.text.strip()[:200] or "no body"
            answer = {"ok": False, "error_code": response.status_code, "description": text}
        return response.status_code, answer


def _error_detail(status: int, answer: dict[str, Any]) -> str:
    code = answer.get("error_code") or status
    detail = f"Telegram error {code}: {answer.get('description') or 'no description'}"
    retry_after = (answer.get("parameters") or {}).get("retry_after")
    if retry_after is not None:
        detail += f" (retry after {retry_after} s)"
    return detail
