"""Stripe: ``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``, with
several ``v1`` values while Stripe rolls a secret (a ``v0`` value is ignored), within
WEBHOOK_SIGNATURE_TOLERANCE_S. The body is the event: its ``type`` names it and its ``id``
(``evt_…``) stays the same on every retry."""

from datetime import datetime

from workflows.senders.base import Delivery, Headers, Sender, timestamped_signature_ok
from workflows.senders.reading import json_object, text


class StripeSender(Sender):
    name = "stripe"
    label = "Stripe"

    def verify(
        self, *, body: bytes, headers: Headers, secrets: list[str], now: datetime
    ) -> str | None:
        signature = headers.get("stripe-signature")
        if not signature:
            return "Missing Stripe-Signature: give this workflow the endpoint's signing secret."
        if not timestamped_signature_ok(signature, body, secrets, now):
            return "Stripe-Signature does not match the body, or its time is outside the tolerance."
        return None

    def parse(self, *, body: bytes, headers: Headers) -> Delivery:
        event = json_object(body)
        return Delivery(
            payload=event, event=text(event.get("type")), delivery_id=text(event.get("id"))
        )
