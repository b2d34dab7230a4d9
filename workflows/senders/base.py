"""The interface every webhook sender implements, and what it reads out of a delivery.

A sender never sees the workflow: the service hands it the raw body, the request headers (names
in lower case) and the secrets that are valid now, and acts on what it answers.
"""

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from django.conf import settings

from integrations.signing import signature_verify

Headers = Mapping[str, str]


class DeliveryInvalid(Exception):
    """The body is not what this sender sends (answered 400); the message says why."""


@dataclass(frozen=True)
class Delivery:
    """One delivery, read: the payload the run sees as ``trigger``, the event it announces, the
    id the sender keeps across its retries, and ``reply`` for a handshake (GitHub's ping, Slack's
    URL check) that is answered with it and starts nothing."""

    payload: dict[str, Any]
    event: str | None = None
    delivery_id: str | None = None
    reply: dict[str, Any] | None = None


class Sender:
    name: ClassVar[str]
    label: ClassVar[str]
    # A sender whose deliveries are only trustworthy when signed refuses to work without a secret.
    needs_secret: ClassVar[bool] = True
    # Request headers (lower case) copied into the run's context, beside content-type and
    # user-agent. Never a header that carries a secret.
    headers: ClassVar[tuple[str, ...]] = ()

    def verify(
        self, *, body: bytes, headers: Headers, secrets: list[str], now: datetime
    ) -> str | None:
        """None when the delivery is authentic under one of ``secrets``; else why not (a 401)."""
        raise NotImplementedError

    def parse(self, *, body: bytes, headers: Headers) -> Delivery:
        """Read a verified delivery. Raises DeliveryInvalid."""
        raise NotImplementedError


def hex_hmac_matches(secrets: Iterable[str], message: bytes, given: str) -> bool:
    """True when ``given`` is the hex HMAC-SHA256 of ``message`` under one of ``secrets``. Every
    secret is compared, so the time taken does not tell which one matched."""
    given = given.strip().lower()
    matches = [
        hmac.compare_digest(hmac.new(secret.encode(), message, hashlib.sha256).hexdigest(), given)
        for secret in secrets
        if secret
    ]
    return any(matches)


def timestamped_signature_ok(header: str, body: bytes, secrets: list[str], now: datetime) -> bool:
    """``t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`` (any of several ``v1``), with ``t``
    within WEBHOOK_SIGNATURE_TOLERANCE_S of ``now``: our scheme, which is Stripe's."""
    return signature_verify(
        header,
        body,
        secrets,
        now=int(now.timestamp()),
        tolerance_s=settings.WEBHOOK_SIGNATURE_TOLERANCE_S,
    )
