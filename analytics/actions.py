"""``monitor``: checks a URL and/or the system's own metrics against thresholds.

A breach fails the step (permanently: the check ran and found a problem), so the workflow's
failure alerts fire with the breaches listed in the error.
"""

from typing import Any

from rest_framework import serializers

from analytics import selectors
from integrations.http import OutboundError, http_request
from workflows.actions.base import Action, ActionError, StepRun, Templated
from workflows.models import AutomationWorkflow

MAX_WINDOW_MINUTES = 90 * 24 * 60
_WORKFLOW_THRESHOLDS = ("max_failure_rate", "max_avg_time_ms")
_URL_CHECKS = ("expect_status", "max_latency_ms", "contains")


class MetricsParams(serializers.Serializer):
    workflow_id = Templated(serializers.IntegerField(min_value=1), required=False, default=None)
    max_failure_rate = serializers.FloatField(
        min_value=0, max_value=1, required=False, help_text="From 0 to 1: 0.2 is 20 %."
    )
    max_avg_time_ms = serializers.FloatField(min_value=0, required=False)
    window_minutes = serializers.FloatField(
        min_value=1, max_value=MAX_WINDOW_MINUTES, required=False, default=60
    )
    max_queued = serializers.IntegerField(min_value=0, required=False)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                known = ", ".join(self.fields)
                raise serializers.ValidationError(
                    {name: [f"Unknown metric. Known: {known}."] for name in unknown}
                )
        return super().to_internal_value(data)

    def validate_workflow_id(self, workflow_id: Any) -> Any:
        if (
            isinstance(workflow_id, int)
            and not AutomationWorkflow.objects.filter(pk=workflow_id).exists()
        ):
            raise serializers.ValidationError(f"Workflow {workflow_id} does not exist.")
        return workflow_id

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        thresholds = [*_WORKFLOW_THRESHOLDS, "max_queued"]
        if not any(attrs.get(name) is not None for name in thresholds):
            raise serializers.ValidationError(f"Set at least one of: {', '.join(thresholds)}.")
        if attrs.get("workflow_id") is None and any(
            attrs.get(name) is not None for name in _WORKFLOW_THRESHOLDS
        ):
            raise serializers.ValidationError(
                {"workflow_id": ["Required with max_failure_rate or max_avg_time_ms."]}
            )
        return attrs


class MonitorParams(serializers.Serializer):
    url = Templated(serializers.URLField(max_length=2000), required=False, default=None)
    expect_status = serializers.ListField(
        child=serializers.IntegerField(min_value=100, max_value=599), required=False
    )
    max_latency_ms = serializers.IntegerField(min_value=1, required=False)
    contains = serializers.CharField(required=False, max_length=1000)
    metrics = MetricsParams(required=False)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("expect_status"), int):
            data = {**data, "expect_status": [data["expect_status"]]}
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("url"):
            orphans = [name for name in _URL_CHECKS if name in attrs]
            if orphans:
                raise serializers.ValidationError(
                    {name: ["Needs a url to check."] for name in orphans}
                )
            if not attrs.get("metrics"):
                raise serializers.ValidationError("Set a url to check, metrics, or both.")
        return attrs


def _url_breaches(params: dict[str, Any], step: StepRun, output: dict[str, Any]) -> list[str]:
    url = params["url"]
    try:
        response = http_request(
            "GET", url, timeout_s=step.timeout_s, idempotency_key=step.idempotency_key
        )
    except OutboundError as exc:
        return [f"GET {url} failed: {exc.message}"]
    output.update(status_code=response.status_code, latency_ms=response.elapsed_ms)
    breaches = []
    expected = params.get("expect_status")
    if expected and response.status_code not in expected:
        wanted = ", ".join(str(code) for code in expected)
        breaches.append(f"status {response.status_code}, expected {wanted}")
    elif not expected and not 200 <= response.status_code < 300:
        breaches.append(f"status {response.status_code}, expected 2xx")
    ceiling = params.get("max_latency_ms")
    if ceiling is not None and response.elapsed_ms > ceiling:
        breaches.append(f"latency {response.elapsed_ms} ms over the {ceiling} ms ceiling")
    contains = params.get("contains")
    if contains is not None and contains not in response.text:
        breaches.append(f"body does not contain {contains!r}")
    return breaches


def _metric_breaches(metrics: dict[str, Any], output: dict[str, Any]) -> list[str]:
    workflow_id, window = metrics["workflow_id"], metrics["window_minutes"]
    measured: dict[str, Any] = {}
    breaches = []
    span = f"over the last {window:g} min"
    if metrics.get("max_failure_rate") is not None:
        rate = selectors.workflow_failure_rate(workflow_id=workflow_id, window_minutes=window)
        measured["failure_rate"] = rate
        ceiling = metrics["max_failure_rate"]
        if rate is not None and rate > ceiling:
            breaches.append(
                f"workflow {workflow_id} failure rate {rate:.0%} is over {ceiling:.0%} {span}"
            )
    if metrics.get("max_avg_time_ms") is not None:
        average = selectors.workflow_avg_time_ms(workflow_id=workflow_id, window_minutes=window)
        measured["avg_time_ms"] = average
        ceiling = metrics["max_avg_time_ms"]
        if average is not None and average > ceiling:
            breaches.append(
                f"workflow {workflow_id} average time {average:g} ms is over {ceiling:g} ms {span}"
            )
    if metrics.get("max_queued") is not None:
        queued = measured["queued"] = selectors.executions_queued_count()
        if queued > metrics["max_queued"]:
            breaches.append(f"{queued} executions queued, over {metrics['max_queued']}")
    output["metrics"] = measured
    return breaches


class MonitorAction(Action):
    type = "monitor"
    label = "Monitor a URL or metrics"
    params_serializer = MonitorParams

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        output: dict[str, Any] = {"status_code": None, "latency_ms": None}
        breaches = []
        if params.get("url"):
            breaches += _url_breaches(params, step, output)
        if params.get("metrics"):
            breaches += _metric_breaches(params["metrics"], output)
        output.update(ok=not breaches, breaches=breaches)
        if breaches:
            raise ActionError(f"Monitor breached: {'; '.join(breaches)}.", output=output)
        return output
