"""``api_call``: one HTTP request through the outbound client, with JMESPath extraction."""

from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from rest_framework import serializers

from integrations.http import OutboundError, OutboundResponse, http_request
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

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("expect_status"), int):
            data = {**data, "expect_status": [data["expect_status"]]}
        if isinstance(data, dict) and isinstance(data.get("method"), str):
            data = {**data, "method": data["method"].upper()}
        return super().to_internal_value(data)

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
        method, url = params["method"], params["url"]
        try:
            response = http_request(
                method,
                url,
                headers=params.get("headers"),
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
