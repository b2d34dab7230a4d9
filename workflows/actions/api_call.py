"""``api_call``: one HTTP request through the outbound client, with JMESPath extraction."""

from functools import partial
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from rest_framework import serializers

from integrations.http import OutboundError, OutboundResponse, http_request
from integrations.models import IntegrationConnection
from integrations.ratelimits.throttle import connection_request
from integrations.redaction import redact, secrets_of
from integrations.selectors import connection_get_active
from integrations.services import ConnectionAuthError, connection_auth_headers
from workflows.actions.base import Action, ActionError, StepRun, Templated

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_ERROR_BODY_CHARS = 300


def response_body(response: OutboundResponse) -> Any:
    """The JSON body when there is one, else the text."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def status_retryable(status_code: int) -> bool:
    return status_code == 429 or status_code >= 500


class ApiCallParams(serializers.Serializer):
    method = serializers.ChoiceField(choices=METHODS, default="GET")
    url = Templated(serializers.URLField(max_length=2000))
    headers = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    query = serializers.DictField(child=serializers.JSONField(), required=False)
    body = serializers.JSONField(required=False)
    timeout_s = Templated(
        serializers.FloatField(min_value=0.1, max_value=600), required=False, default=None
    )
    expect_status = serializers.ListField(
        child=serializers.IntegerField(min_value=100, max_value=599), required=False
    )
    extract = serializers.DictField(child=serializers.CharField(), required=False)
    # An active IntegrationConnection whose auth headers are added at run time: the secret never
    # passes through params, so it is not in the step's recorded input.
    connection = Templated(
        serializers.IntegerField(min_value=1, allow_null=True), required=False, default=None
    )

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("expect_status"), int):
            data = {**data, "expect_status": [data["expect_status"]]}
        if isinstance(data, dict) and isinstance(data.get("method"), str):
            data = {**data, "method": data["method"].upper()}
        return super().to_internal_value(data)

    def validate_connection(self, connection_id: Any) -> Any:
        if (
            isinstance(connection_id, int)
            and connection_get_active(connection_id=connection_id) is None
        ):
            raise serializers.ValidationError(f"No active connection with id {connection_id}.")
        return connection_id

    def validate_extract(self, extract: dict[str, str]) -> dict[str, str]:
        for name, expression in extract.items():
            try:
                jmespath.compile(expression)
            except JMESPathError as exc:
                raise serializers.ValidationError(f"{name}: invalid JMESPath: {exc}") from None
        return extract


class ApiCallAction(Action):
    type = "api_call"
    label = "HTTP request"
    params_serializer = ApiCallParams

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
            "extracted": {
                name: jmespath.search(expression, body)
                for name, expression in (params.get("extract") or {}).items()
            },
        }
        output = redact(output, secrets)
        expected = params.get("expect_status")
        ok = response.status_code in expected if expected else 200 <= response.status_code < 300
        if not ok:
            snippet = response.text[:_ERROR_BODY_CHARS]
            raise ActionError(
                f"HTTP {response.status_code} from {method} {url}: {snippet}",
                retryable=status_retryable(response.status_code),
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
