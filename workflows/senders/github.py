"""GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>``; the event in
``X-GitHub-Event``, the delivery id (kept on redelivery) in ``X-GitHub-Delivery``.

A hook created through GitHub's API defaults to ``content_type=form``: the body is then
``payload=<url-encoded JSON>``, and the signature still covers those raw bytes. GitHub pings a
new hook (``X-GitHub-Event: ping``); the ping is answered and runs nothing.
"""

from datetime import datetime

from integrations.signing import github_signature_verify
from workflows.senders.base import Delivery, DeliveryInvalid, Headers, Sender
from workflows.senders.reading import FORM, JSON, content_type, form_fields, json_object


class GitHubSender(Sender):
    name = "github"
    label = "GitHub"
    headers = (
        "x-github-event",
        "x-github-delivery",
        "x-github-hook-id",
        "x-github-hook-installation-target-id",
        "x-github-hook-installation-target-type",
    )

    def verify(
        self, *, body: bytes, headers: Headers, secrets: list[str], now: datetime
    ) -> str | None:
        signature = headers.get("x-hub-signature-256")
        if not signature:
            return "Missing X-Hub-Signature-256: give the hook in GitHub this workflow's secret."
        if not github_signature_verify(signature, body, secrets):
            return "X-Hub-Signature-256 does not match the body under this workflow's secret."
        return None

    def parse(self, *, body: bytes, headers: Headers) -> Delivery:
        media_type = content_type(headers)
        if media_type == FORM:
            fields = form_fields(body)
            if "payload" not in fields:
                raise DeliveryInvalid(
                    "A form-encoded GitHub delivery carries its JSON in 'payload'."
                )
            payload = json_object(fields["payload"], what="The 'payload' field")
        elif media_type == JSON:
            payload = json_object(body)
        else:
            raise DeliveryInvalid(
                f"GitHub sends {JSON} or {FORM}, not {media_type or 'no content type'}."
            )
        event = headers.get("x-github-event") or None
        reply = None
        if event == "ping":
            reply = {"detail": "GitHub ping received: this hook reaches the workflow. Nothing ran."}
        return Delivery(
            payload=payload,
            event=event,
            delivery_id=headers.get("x-github-delivery") or None,
            reply=reply,
        )
