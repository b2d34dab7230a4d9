"""Ghost: ``X-Ghost-Signature: sha256=<hex HMAC-SHA256(secret, <raw body><t>)>, t=<unix ms>`` —
the millisecond timestamp is appended to the body with no separator (Ghost's webhook trigger),
and must be within WEBHOOK_SIGNATURE_TOLERANCE_S of now.

Since Ghost 6 the body names its event (``"event": "post.published"``); an older Ghost sends only
``{"post": {"current", "previous"}}``, and the workflow's ``trigger.event`` names it instead.
Ghost sends no delivery id; a retry of one delivery repeats its signature header, so the
signature stands in for one.
"""

from datetime import datetime

from django.conf import settings

from workflows.senders.base import Delivery, Headers, Sender, hex_hmac_matches
from workflows.senders.reading import json_object, text


def _signature_parts(header: str) -> tuple[str, str]:
    """(hex digest, millisecond timestamp) of ``sha256=<hex>, t=<ms>``; "" for a missing part."""
    parts: dict[str, str] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        parts[name] = value
    return parts.get("sha256", ""), parts.get("t", "")


class GhostSender(Sender):
    name = "ghost"
    label = "Ghost"
    headers = ("content-version",)

    def verify(
        self, *, body: bytes, headers: Headers, secrets: list[str], now: datetime
    ) -> str | None:
        given, timestamp_ms = _signature_parts(headers.get("x-ghost-signature", ""))
        if not given or not timestamp_ms:
            return "Missing X-Ghost-Signature (sha256=…, t=…): give the Ghost webhook a secret."
        tolerance_ms = settings.WEBHOOK_SIGNATURE_TOLERANCE_S * 1000
        if not timestamp_ms.isdigit() or abs(now.timestamp() * 1000 - int(timestamp_ms)) > (
            tolerance_ms
        ):
            return "The X-Ghost-Signature timestamp is outside the tolerance: refused."
        if not hex_hmac_matches(secrets, body + timestamp_ms.encode(), given):
            return "X-Ghost-Signature does not match the body under this workflow's secret."
        return None

    def parse(self, *, body: bytes, headers: Headers) -> Delivery:
        payload = json_object(body)
        given, _ = _signature_parts(headers.get("x-ghost-signature", ""))
        return Delivery(
            payload=payload, event=text(payload.get("event")), delivery_id=given.lower() or None
        )
