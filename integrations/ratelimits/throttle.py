"""The one door for outbound calls made as a connection: its rate limit, then the request.

``connection_request`` is ``http_request`` for a call on a connection's behalf: it waits for a
slot of the connection's rate limit, sends, and honours a 429's ``Retry-After`` once — it waits
that long (when the call's timeout leaves room), holds back every other worker of the
connection meanwhile, and sends once more. A second 429, or a Retry-After beyond the timeout, is
returned as the response, which callers already treat as retryable. The whole call, waits
included, stays within ``timeout_s``. Non-HTTP senders (SMTP, Apprise) call
``connection_throttle`` before they connect.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from integrations.http import OutboundError, OutboundResponse, http_request
from integrations.ratelimits.backends import limiter_get
from integrations.ratelimits.rates import Rate, rate_parse

if TYPE_CHECKING:
    from integrations.models import IntegrationConnection

logger = logging.getLogger(__name__)

Sleep = Callable[[float], None]
# Waiters wake a little apart, not all in the same millisecond to race for one slot.
WAKE_JITTER_S = 0.02


class RateLimitWait(OutboundError):
    """No slot of the connection's rate limit came free within the call's timeout: retryable,
    and ``retry_after_s`` says when one may."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message, retryable=True)
        self.retry_after_s = retry_after_s


def _rate(connection: IntegrationConnection) -> Rate | None:
    try:
        return rate_parse(connection.rate_limit)
    except ValueError:
        # Stored before validation existed, or edited behind the service's back: fail closed
        # would block the connection for good; an unusable limit is logged and not applied.
        logger.warning("connection %s has an invalid rate_limit; not applied", connection.pk)
        return None


def connection_throttle(
    connection: IntegrationConnection, *, timeout_s: float, sleep: Sleep = time.sleep
) -> float:
    """Wait for a slot of the connection's rate limit and take it; return the seconds slept
    waiting (0 when a slot was free, or without a limit). Raises RateLimitWait when no slot
    comes free within ``timeout_s``."""
    rate = _rate(connection)
    if rate is None:
        return 0.0
    limiter = limiter_get()
    deadline = time.monotonic() + timeout_s
    waited = 0.0
    while True:
        wait = limiter.acquire(str(connection.pk), rate)
        if wait <= 0:
            return waited
        left = deadline - time.monotonic()
        if wait > left:
            raise RateLimitWait(
                f"rate limit of connection {connection.pk} ({rate}): no free slot within "
                f"{timeout_s:g}s; try again in {wait:.1f}s",
                retry_after_s=wait,
            )
        pause = wait + random.uniform(0, WAKE_JITTER_S)
        sleep(pause)
        waited += pause


def retry_after_s(response: OutboundResponse) -> float | None:
    """How long a 429 asks the caller to wait: the ``Retry-After`` header (seconds or an HTTP
    date), else Telegram's ``parameters.retry_after`` in the body; None when it does not say."""
    header = (response.headers.get("retry-after") or "").strip()
    if header.isdigit():
        return float(header)
    if header:
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    try:
        body = response.json()
    except ValueError:
        return None
    parameters = body.get("parameters") if isinstance(body, dict) else None
    seconds = parameters.get("retry_after") if isinstance(parameters, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        return None
    return float(seconds)


def connection_request(
    connection: IntegrationConnection,
    method: str,
    url: str,
    *,
    timeout_s: float = 30.0,
    sleep: Sleep = time.sleep,
    **kwargs: Any,
) -> OutboundResponse:
    """``http_request`` on the connection's behalf (same arguments and errors), within its rate
    limit, honouring one 429 Retry-After. Raises RateLimitWait (retryable) when the limit
    leaves no slot in time."""
    deadline = time.monotonic() + timeout_s

    def send() -> OutboundResponse:
        connection_throttle(connection, timeout_s=_left(deadline, timeout_s), sleep=sleep)
        return http_request(method, url, timeout_s=_left(deadline, timeout_s), **kwargs)

    response = send()
    if response.status_code != 429:
        return response
    delay = retry_after_s(response)
    if delay is None or delay >= deadline - time.monotonic():
        return response
    if _rate(connection) is not None:
        limiter_get().block(str(connection.pk), delay)  # the connection's other callers too
    sleep(delay)
    return send()


def _left(deadline: float, timeout_s: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise OutboundError(f"timed out after {timeout_s:g}s (waiting included)", retryable=True)
    return left
