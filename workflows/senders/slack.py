"""Slack: ``X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:<X-Slack-Request-Timestamp>:
<raw body>")>``, with the timestamp within WEBHOOK_SIGNATURE_TOLERANCE_S (Slack says 5 minutes).

The Events API posts JSON: ``url_verification`` is answered with its challenge and runs nothing;
an ``event_callback`` is named by ``event.type`` and identified by ``event_id``, which Slack keeps
on retries. Slash commands post a form (named by the command, e.g. ``/deploy``); interactivity
posts a form whose ``payload`` field is JSON (named by its ``type``, e.g. ``block_actions``).
"""

from datetime import datetime

from django.conf import settings

from workflows.senders.base import Delivery, Headers, Sender, hex_hmac_matches
from workflows.senders.reading import JSON, content_type, form_fields, json_object, text


class SlackSender(Sender):
    name = "slack"
    label = "Slack"
    headers = ("x-slack-request-timestamp", "x-slack-retry-num", "x-slack-retry-reason")

    def verify(
        self, *, body: bytes, headers: Headers, secrets: list[str], now: datetime
    ) -> str | None:
        timestamp = headers.get("x-slack-request-timestamp", "")
        scheme, _, given = headers.get("x-slack-signature", "").partition("=")
        if not timestamp or not given:
            return "Missing X-Slack-Signature or X-Slack-Request-Timestamp."
        tolerance = settings.WEBHOOK_SIGNATURE_TOLERANCE_S
        if not timestamp.isdigit() or abs(now.timestamp() - int(timestamp)) > tolerance:
            return f"X-Slack-Request-Timestamp is more than {tolerance} s from now: refused."
        signed = f"v0:{timestamp}:".encode() + body
        if scheme != "v0" or not hex_hmac_matches(secrets, signed, given):
            return "X-Slack-Signature does not match the body under this workflow's secret."
        return None

    def parse(self, *, body: bytes, headers: Headers) -> Delivery:
        if content_type(headers) == JSON:
            data = json_object(body)
            if data.get("type") == "url_verification":
                reply = {"challenge": str(data.get("challenge", ""))}
                return Delivery(payload=data, event="url_verification", reply=reply)
            inner = data.get("event")
            event = text(inner.get("type")) if isinstance(inner, dict) else None
            return Delivery(
                payload=data,
                event=event or text(data.get("type")),
                delivery_id=text(data.get("event_id")),
            )
        fields = form_fields(body)
        if "payload" in fields:
            action = json_object(fields["payload"], what="The 'payload' field")
            return Delivery(
                payload=action,
                event=text(action.get("type")),
                delivery_id=text(action.get("trigger_id")),
            )
        return Delivery(
            payload=dict(fields),
            event=text(fields.get("command")),
            delivery_id=text(fields.get("trigger_id")),
        )
