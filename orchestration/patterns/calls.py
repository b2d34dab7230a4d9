"""One call of an orchestration: rendered once from its templates, then sent with retries.

Rendering happens on the scheduler's thread (it reads the run's state); sending happens on a pool
thread and touches nothing but the outbound HTTP client.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from jmespath.exceptions import JMESPathError

from integrations.http import (
    OutboundError,
    OutboundResponse,
    http_request,
    response_body,
    status_retryable,
)
from integrations.redaction import url_redacted
from orchestration.patterns.retry import TIMEOUT, RetryStrategy
from workflows.extract import extract_values
from workflows.templating import params_render

SUCCEEDED, FAILED, SKIPPED = "succeeded", "failed", "skipped"

Sleep = Callable[[float], None]


class CallError(Exception):
    """A call cannot be sent (e.g. its connection is gone); it fails without a request."""


@dataclass
class CallOutcome:
    """What became of one call; ``record()`` is its entry in the run's ``calls``."""

    status: str
    status_code: int | None = None
    attempts: int = 0
    duration_ms: int = 0
    output: dict[str, Any] | None = None
    error: str = ""
    # Whether trying the call again later may succeed (a timeout, 429, 5xx): not recorded.
    retryable: bool = False

    def record(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "status_code": self.status_code,
            "attempts": self.attempts,
            "duration_ms": self.duration_ms,
            "output": self.output,
            "error": self.error,
        }

    def template_value(self) -> dict[str, Any]:
        """What templates see as ``calls.<id>`` (and ``prev`` in a pipeline)."""
        output = self.output or {}
        return {
            "status_code": self.status_code,
            "body": output.get("body"),
            "extracted": output.get("extracted", {}),
        }


@dataclass(frozen=True)
class Access:
    """What a call's connection contributes: its auth headers, and a wait for a slot of its
    rate limit (given the call's timeout) before each request."""

    headers: dict[str, str] = field(default_factory=dict)
    throttle: Callable[[float], Any] | None = None


@dataclass(frozen=True)
class PreparedCall:
    """A call with its templates rendered, ready to send."""

    call_id: str
    method: str
    url: str
    headers: dict[str, str]
    query: dict[str, Any] | None
    body: Any
    timeout_s: float
    extract: dict[str, str] = field(default_factory=dict)
    throttle: Callable[[float], Any] | None = None

    @property
    def label(self) -> str:
        """Method and URL without query values or userinfo, which may carry secrets."""
        return f"{self.method} {url_redacted(self.url)}"


def call_prepare(
    call: Mapping[str, Any], context: Mapping[str, Any], access: Access
) -> PreparedCall:
    """Render the call's url, headers, query and body once; raises TemplateError."""
    rendered = params_render(
        {key: call.get(key) for key in ("url", "headers", "query", "body")}, context
    )
    headers = {name: str(value) for name, value in (rendered["headers"] or {}).items()}
    return PreparedCall(
        call_id=call["id"],
        method=str(call.get("method") or "GET").upper(),
        url=str(rendered["url"]),
        headers={**headers, **access.headers},
        query=rendered["query"],
        body=rendered["body"],
        timeout_s=float(call.get("timeout_s") or settings.STEP_DEFAULT_TIMEOUT_S),
        extract=dict(call.get("extract") or {}),
        throttle=access.throttle,
    )


def call_send(
    call: PreparedCall, retry: RetryStrategy, *, idempotency_key: str, sleep: Sleep = time.sleep
) -> CallOutcome:
    """Send the call, trying again on the strategy's statuses and timeouts; never raises."""
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        outcome, reason = _attempt(call, idempotency_key)
        outcome.attempts = attempt
        if outcome.status == SUCCEEDED or attempt >= retry.max_attempts:
            break
        if reason is None or not retry.retries(reason):
            break
        sleep(retry.delay_after(attempt))
    outcome.duration_ms = int((time.monotonic() - started) * 1000)
    return outcome


def _attempt(call: PreparedCall, idempotency_key: str) -> tuple[CallOutcome, int | str | None]:
    """One request. Returns the outcome and what a retry would be for (status, timeout, None)."""
    try:
        if call.throttle is not None:
            call.throttle(call.timeout_s)
        response = http_request(
            call.method,
            call.url,
            headers=call.headers,
            params=call.query,
            json=call.body,
            timeout_s=call.timeout_s,
            idempotency_key=idempotency_key,
        )
    except OutboundError as exc:
        # Timeouts and dropped connections are the transient failures "timeout" stands for.
        reason = TIMEOUT if exc.retryable else None
        return CallOutcome(FAILED, error=exc.message, retryable=exc.retryable), reason
    except (UnicodeError, ValueError, TypeError) as exc:
        # The request could not be encoded (e.g. a header value outside Latin-1). The exception's
        # text may quote a header, which may be a credential: only its type is told.
        error = f"could not send {call.label}: {type(exc).__name__} in its headers or body"
        return CallOutcome(FAILED, error=error), None
    return _from_response(call, response), response.status_code


def _from_response(call: PreparedCall, response: OutboundResponse) -> CallOutcome:
    body = response_body(response)
    code = response.status_code
    try:
        extracted = extract_values(call.extract, body)
    except JMESPathError as exc:
        error = f"extract failed on the response of {call.label}: {exc}"
        return CallOutcome(FAILED, code, output={"body": body, "extracted": {}}, error=error)
    output = {"body": body, "extracted": extracted}
    if 200 <= code < 300:
        return CallOutcome(SUCCEEDED, code, output=output)
    # The body is in the call's output (staff read runs); the error, which an orchestrate step
    # passes on to its execution, quotes none of it.
    error = f"HTTP {code} from {call.label}"
    return CallOutcome(FAILED, code, output=output, error=error, retryable=status_retryable(code))
