"""Generic JSON webhooks (n8n, Zapier, any receiver): ``webhook_url``, and an optional
``credentials.signing_secret`` that signs each POST with ``X-Signature: t=…,v1=…``.

Verify posts a signed ``{"event": "ping"}`` and expects 2xx. A 2xx means "accepted": n8n answers
"Workflow was started" and a Zapier catch hook a fixed success body before anything ran.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from integrations.http import OutboundResponse, status_retryable
from integrations.platforms.base import (
    Errors,
    Message,
    Platform,
    SendResult,
    VerifyResult,
    snippet,
)
from integrations.ratelimits.throttle import connection_request
from integrations.signing import SIGNATURE_HEADER, signature_header

if TYPE_CHECKING:
    from integrations.models import IntegrationConnection

TIMEOUT_S = 15.0


def signed_post(
    connection: IntegrationConnection, payload: Any, *, idempotency_key: str | None = None
) -> OutboundResponse:
    """POST ``payload`` as compact JSON to the connection's webhook URL, signed with its
    ``credentials.signing_secret`` when it has one."""
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    headers = {"Content-Type": "application/json"}
    secret = connection.credentials.get("signing_secret") or ""
    if secret:
        headers[SIGNATURE_HEADER] = signature_header(secret, body, int(time.time()))
    return connection_request(
        connection, "POST", connection.webhook_url, data=body, headers=headers,
        timeout_s=TIMEOUT_S, idempotency_key=idempotency_key,
    )  # fmt: skip


class Webhook(Platform):
    name = "webhook"
    label = "Webhook"
    credential_keys = frozenset({"signing_secret"})
    key_hints = {"secret": "signing_secret", "webhook_secret": "signing_secret"}

    def check_fields(
        self, errors: Errors, credentials: Mapping[str, Any], webhook_url: str,
        config: Mapping[str, Any],
    ) -> None:  # fmt: skip
        if not webhook_url:
            errors.add("webhook_url", "Required.")
        secret = credentials.get("signing_secret")
        if secret is not None and not isinstance(secret, str):
            errors.add("credentials.signing_secret", "Must be a string.")

    def check(self, connection: IntegrationConnection) -> VerifyResult:
        response = self._post(connection, {"event": "ping"})
        if 200 <= response.status_code < 300:
            return VerifyResult(True, f"ping accepted ({response.status_code})")
        return VerifyResult(False, _error_detail(response))

    def deliver(self, connection: IntegrationConnection, message: Message) -> SendResult:
        payload = {
            "event": "message",
            "title": message.title,
            "text": message.text,
            "severity": message.severity,
            "url": message.url,
            "data": message.data,
        }
        response = self._post(connection, payload)
        status = response.status_code
        if 200 <= status < 300:
            return SendResult(True, status, f"accepted ({status})")
        return SendResult(False, status, _error_detail(response), status_retryable(status))

    def _post(self, connection: IntegrationConnection, payload: Any) -> OutboundResponse:
        return signed_post(connection, payload)


class N8n(Webhook):
    name = "n8n"
    label = "n8n"


class Zapier(Webhook):
    name = "zapier"
    label = "Zapier"


def _error_detail(response: OutboundResponse) -> str:
    return f"answered {response.status_code}: {snippet(response) or 'no body'}"
