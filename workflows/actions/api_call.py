"""``api_call``: one HTTP request through the outbound client, with JMESPath extraction."""

from functools import partial
from typing import Any

from integrations.http import (
    OutboundError,
    http_request,
    response_body,
    status_retryable,
)
from integrations.models import IntegrationConnection
from integrations.platforms.registry import PLATFORMS
from integrations.ratelimits.throttle import connection_request
from integrations.redaction import redact, secrets_of, url_redacted
from integrations.selectors import connection_get_active
from integrations.services import ConnectionAuthError, connection_auth_headers
from workflows.actions.base import Action, ActionError, StepRun
from workflows.extract import extract_errors, extract_values

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_ERROR_BODY_CHARS = 300


_STATUS = {"type": "integer", "minimum": 100, "maximum": 599}
# One HTTP status code or a list of them (params_statuses makes the one a list).
STATUS_CODES = {"anyOf": [_STATUS, {"type": "array", "items": _STATUS}]}


def params_statuses(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with a single ``expect_status`` code made a list of one."""
    if isinstance(params.get("expect_status"), int):
        return {**params, "expect_status": [params["expect_status"]]}
    return params


PARAMS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url"],
    "properties": {
        "method": {
            "type": "string",
            "enum": METHODS,
            "default": "GET",
            "description": "The HTTP method (any case).",
        },
        "url": {
            "type": "string",
            "format": "uri",
            "maxLength": 2000,
            "x-template": True,
            "description": "The URL to call; private addresses are refused unless "
            "OUTBOUND_ALLOWED_HOSTS names them.",
        },
        "headers": {
            "type": "object",
            "additionalProperties": {"type": "string", "x-template": True},
            "description": "Request headers; a connection's auth headers are added to them.",
        },
        "query": {
            "type": "object",
            "description": "Query string parameters (values may be templates).",
        },
        "body": {"description": "The JSON body (any JSON value; strings may be templates)."},
        "timeout_s": {
            "type": "number",
            "minimum": 0.1,
            "maximum": 600,
            "x-template": True,
            "description": "Seconds to wait for the answer (default: the step's timeout_s).",
        },
        "expect_status": {
            **STATUS_CODES,
            "description": "The status code(s) that count as success (default: any 2xx).",
        },
        "extract": {
            "type": "object",
            "additionalProperties": {"type": "string", "minLength": 1},
            "description": "Values to pick from the JSON body: {name: JMESPath expression}; "
            "they appear in the output's extracted.",
        },
        "connection": {
            "type": "integer",
            "minimum": 1,
            "x-template": True,
            "x-connection-platform": list(PLATFORMS),
            "description": "An active connection whose credentials authenticate the request "
            "(its auth headers are added at run time and never recorded) and whose rate limit "
            "the call waits for.",
        },
    },
}


class ApiCallAction(Action):
    type = "api_call"
    label = "HTTP request"
    group = "data"
    description = (
        "Sends one HTTP request through the outbound client (timeouts, size cap, SSRF guard, "
        "an Idempotency-Key per step) and picks values from the JSON answer with JMESPath. "
        "429 and 5xx answers, timeouts and connection errors are retryable."
    )
    params_schema = PARAMS_SCHEMA
    example = {
        "id": "ping",
        "type": "api_call",
        "params": {
            "method": "POST",
            "url": "https://hooks.example.com/x",
            "body": {"id": "{{ article.id }}"},
            "extract": {"received": "ok"},
        },
        "retry": {"max_attempts": 3, "backoff": "exponential", "delay_s": 2},
    }

    def params_normalize(self, params: dict[str, Any]) -> dict[str, Any]:
        params = params_statuses(params)
        if isinstance(params.get("method"), str):
            params = {**params, "method": params["method"].upper()}
        return params

    def params_check(self, params: dict[str, Any], *, rendered: bool) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        connection_id = params.get("connection")
        if (
            isinstance(connection_id, int)
            and connection_get_active(connection_id=connection_id) is None
        ):
            errors["connection"] = [f"No active connection with id {connection_id}."]
        extract = extract_errors(params.get("extract") or {})
        if extract:
            errors["extract"] = extract
        return errors

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        connection = _connection(params.get("connection"))
        auth = _auth_headers(connection)
        # The encoded header values too: a server may echo "Basic <base64>" back.
        secrets = [*secrets_of(connection), *auth.values()] if connection else []
        try:
            return self._request(params, step, auth, secrets, connection)
        except ActionError as exc:
            raise ActionError(
                redact(exc.message, secrets),
                retryable=exc.retryable,
                output=redact(exc.output, secrets),
            ) from None

    def _request(
        self,
        params: dict[str, Any],
        step: StepRun,
        auth: dict[str, str],
        secrets: list[str],
        connection: IntegrationConnection | None,
    ) -> dict[str, Any]:
        method, url = params["method"], params["url"]
        headers = {**(params.get("headers") or {}), **auth}
        # A call made as a connection waits for a slot of its rate limit and honours a 429's
        # Retry-After once (integrations.ratelimits); the wait counts against the timeout.
        send = partial(connection_request, connection) if connection else http_request
        try:
            response = send(
                method,
                url,
                headers=headers,
                params=params.get("query"),
                json=params.get("body"),
                timeout_s=params.get("timeout_s") or step.timeout_s,
                idempotency_key=step.idempotency_key,
            )
        except OutboundError as exc:
            raise ActionError(exc.message, retryable=exc.retryable) from None
        body = response_body(response)
        output = {
            "status_code": response.status_code,
            "headers": response.headers,
            "body": body,
            "extracted": extract_values(params.get("extract") or {}, body),
        }
        output = redact(output, secrets)
        expected = params.get("expect_status")
        ok = response.status_code in expected if expected else 200 <= response.status_code < 300
        if not ok:
            # The error, which plain users and logs see, names the URL without query values
            # or userinfo and quotes no body; the full error stays in the step's output, which
            # only staff read (on the execution's own page).
            status = response.status_code
            snippet = redact(response.text[:_ERROR_BODY_CHARS], secrets)
            output["error_detail"] = redact(
                f"HTTP {status} from {method} {url}: {snippet}", secrets
            )
            raise ActionError(
                f"HTTP {status} from {method} {url_redacted(url)}",
                retryable=status_retryable(status),
                output=output,
            )
        return output


def _connection(connection_id: int | None) -> IntegrationConnection | None:
    if connection_id is None:
        return None
    connection = connection_get_active(connection_id=connection_id)
    if connection is None:
        raise ActionError(f"connection {connection_id} does not exist or is not active")
    return connection


def _auth_headers(connection: IntegrationConnection | None) -> dict[str, str]:
    if connection is None:
        return {}
    try:
        return connection_auth_headers(connection)
    except ConnectionAuthError as exc:
        raise ActionError(str(exc)) from None
