"""Our own scheme, the default: ``X-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
"<t>.<raw body>")>``, or GitHub's ``X-Hub-Signature-256`` for senders that only speak that. A
workflow without a secret accepts unsigned deliveries."""

from datetime import datetime
from typing import Any

from integrations.signing import github_signature_verify
from workflows.senders.base import (
    Delivery,
    DeliveryInvalid,
    Headers,
    Sender,
    timestamped_signature_ok,
)
from workflows.senders.reading import content_type, first_header, json_value

DELIVERY_HEADERS = ("x-delivery-id", "x-github-delivery", "idempotency-key")


class GenericSender(Sender):
    name = "generic"
    label = "the sender"
    needs_secret = False
    headers = DELIVERY_HEADERS

    def verify(
        self, *, body: bytes, headers: Headers, secrets: list[str], now: datetime
    ) -> str | None:
        if not secrets:
            return None
        signature, github = headers.get("x-signature"), headers.get("x-hub-signature-256")
        if signature:
            ok = timestamped_signature_ok(signature, body, secrets, now)
        elif github:
            ok = github_signature_verify(github, body, secrets)
        else:
            return "Missing signature: send X-Signature or X-Hub-Signature-256."
        return None if ok else "Invalid signature (or its timestamp is outside the tolerance)."

    def parse(self, *, body: bytes, headers: Headers) -> Delivery:
        return Delivery(
            payload=_payload(body, content_type(headers)),
            delivery_id=first_header(headers, DELIVERY_HEADERS),
        )


def _payload(body: bytes, media_type: str) -> dict[str, Any]:
    """JSON when it says or looks so (a value that is not an object goes under ``data``), other
    text under ``body``; an empty body is {}."""
    if not body.strip():
        return {}
    if "json" in media_type or body.lstrip()[:1] in (b"{", b"["):
        data = json_value(body)
        return data if isinstance(data, dict) else {"data": data}
    try:
        return {"body": body.decode()}
    except UnicodeDecodeError:
        raise DeliveryInvalid("The body is neither JSON nor UTF-8 text.") from None
