"""``monitor``: checks a URL and/or the system's own metrics against thresholds.

A breach fails the step (permanently: the check ran and found a problem), so the workflow's
failure alerts fire with the breaches listed in the error.
"""

from typing import Any

from analytics import selectors
from integrations.http import OutboundError, http_request
from integrations.redaction import url_redacted
from workflows.actions.api_call import STATUS_CODES, params_statuses
from workflows.actions.base import Action, ActionError, StepRun
from workflows.models import AutomationWorkflow

MAX_WINDOW_MINUTES = 90 * 24 * 60
_WORKFLOW_THRESHOLDS = ("max_failure_rate", "max_avg_time_ms")
_URL_CHECKS = ("expect_status", "max_latency_ms", "contains")


_THRESHOLD = {"type": "number", "minimum": 0}
METRICS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "description": "Thresholds on the system's own metrics; at least one of max_failure_rate, "
    "max_avg_time_ms, max_queued.",
    "properties": {
        "workflow_id": {
            "type": "integer",
            "minimum": 1,
            "x-template": True,
            "description": "The workflow whose executions are measured (needed by "
            "max_failure_rate and max_avg_time_ms).",
        },
        "max_failure_rate": {
            **_THRESHOLD,
            "maximum": 1,
            "description": "Failed share of finished executions, from 0 to 1: 0.2 is 20 %.",
        },
        "max_avg_time_ms": {**_THRESHOLD, "description": "Average execution time ceiling."},
        "window_minutes": {
            "type": "number",
            "minimum": 1,
            "maximum": MAX_WINDOW_MINUTES,
            "default": 60,
            "description": "The window measured, up to now (at most 90 days).",
        },
        "max_queued": {
            "type": "integer",
            "minimum": 0,
            "description": "Ceiling on executions waiting in the queue (any workflow).",
        },
    },
    "anyOf": [
        {"required": ["max_failure_rate"]},
        {"required": ["max_avg_time_ms"]},
        {"required": ["max_queued"]},
    ],
    "dependentRequired": {
        "max_failure_rate": ["workflow_id"],
        "max_avg_time_ms": ["workflow_id"],
    },
    "x-messages": {
        "anyOf": "Set at least one of: max_failure_rate, max_avg_time_ms, max_queued.",
        "dependentRequired": "Needs workflow_id.",
    },
}
PARAMS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "url": {
            "type": "string",
            "format": "uri",
            "maxLength": 2000,
            "x-template": True,
            "description": "The URL to GET.",
        },
        "expect_status": {
            **STATUS_CODES,
            "description": "The status code(s) that count as up (default: any 2xx).",
        },
        "max_latency_ms": {
            "type": "integer",
            "minimum": 1,
            "description": "A slower answer is a breach.",
        },
        "contains": {
            "type": "string",
            "minLength": 1,
            "maxLength": 1000,
            "description": "Text the body must contain.",
        },
        "metrics": METRICS_SCHEMA,
    },
    "anyOf": [{"required": ["url"]}, {"required": ["metrics"]}],
    "dependentRequired": {name: ["url"] for name in _URL_CHECKS},
    "x-messages": {
        "anyOf": "Set a url to check, metrics, or both.",
        "dependentRequired": "Needs a url to check.",
    },
}


def _url_breaches(params: dict[str, Any], step: StepRun, output: dict[str, Any]) -> list[str]:
    url = params["url"]
    try:
        response = http_request(
            "GET", url, timeout_s=step.timeout_s, idempotency_key=step.idempotency_key
        )
    except OutboundError as exc:
        return [f"GET {url_redacted(url)} failed: {exc.message}"]
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
    # workflow_id is there whenever a workflow threshold is (the schema's dependentRequired).
    workflow_id: int = metrics.get("workflow_id", 0)
    window = metrics["window_minutes"]
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
    group = "monitoring"
    description = (
        "Checks a URL (status, latency, body) and/or the system's own metrics against "
        "thresholds; a breach fails the step, permanently, with the breaches listed, so the "
        "workflow's failure alerts fire."
    )
    params_schema = PARAMS_SCHEMA
    example = {
        "id": "check",
        "type": "monitor",
        "params": {
            "url": "https://example.com/health",
            "expect_status": 200,
            "max_latency_ms": 2000,
            "metrics": {"workflow_id": 1, "max_failure_rate": 0.2, "window_minutes": 60},
        },
    }

    def params_normalize(self, params: dict[str, Any]) -> dict[str, Any]:
        return params_statuses(params)

    def params_check(self, params: dict[str, Any], *, rendered: bool) -> dict[str, Any]:
        workflow_id = (params.get("metrics") or {}).get("workflow_id")
        if isinstance(workflow_id, int) and not (
            AutomationWorkflow.objects.filter(pk=workflow_id).exists()
        ):
            return {"metrics": {"workflow_id": [f"Workflow {workflow_id} does not exist."]}}
        return {}

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
