"""GitLab: no signature, a shared token — ``X-Gitlab-Token`` carries the secret itself, compared
in constant time. The event is ``X-Gitlab-Event`` (``Push Hook``, ``Issue Hook``, …).

The delivery id is ``Idempotency-Key`` (GitLab 17.4+), which GitLab keeps across retries of one
delivery; before that, ``X-Gitlab-Event-UUID`` (one per triggering request); then
``X-Gitlab-Webhook-UUID``, new for every request: it names this request in logs but cannot
recognise a retry.
"""

import hmac
from datetime import datetime

from workflows.senders.base import Delivery, Headers, Sender
from workflows.senders.reading import first_header, json_object, text

DELIVERY_HEADERS = ("idempotency-key", "x-gitlab-event-uuid", "x-gitlab-webhook-uuid")


class GitLabSender(Sender):
    name = "gitlab"
    label = "GitLab"
    headers = ("x-gitlab-event", "x-gitlab-instance", *DELIVERY_HEADERS)

    def verify(
        self, *, body: bytes, headers: Headers, secrets: list[str], now: datetime
    ) -> str | None:
        token = headers.get("x-gitlab-token")
        if not token:
            return "Missing X-Gitlab-Token: give the hook in GitLab this workflow's secret token."
        given = token.encode()
        matches = [hmac.compare_digest(given, secret.encode()) for secret in secrets if secret]
        return None if any(matches) else "X-Gitlab-Token is not this workflow's secret."

    def parse(self, *, body: bytes, headers: Headers) -> Delivery:
        payload = json_object(body)
        return Delivery(
            payload=payload,
            event=headers.get("x-gitlab-event") or text(payload.get("object_kind")),
            delivery_id=first_header(headers, DELIVERY_HEADERS),
        )
