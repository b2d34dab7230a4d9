"""OpenTelemetry tracing: a caller's trace continues through the trigger, each delivery of the
execution, each step and each outbound call (with ``traceparent`` sent on); off by default."""

from collections.abc import Iterator

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from werkzeug import Request, Response

from core.tracing import (
    span,
    tracing_configured,
    tracing_enabled,
    tracing_flush,
    tracing_start,
    tracing_stop,
)
from tests.conftest import wait_for
from tests.factories import WorkflowFactory
from workflows.engine import execution_run
from workflows.models import AutomationExecution

BASE = "/api/workflow-orchestration"
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
CALLER = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
ONE_STEP = {"id": "t", "type": "transform", "params": {"values": {"n": 1}}}


class Spans:
    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self.exporter = exporter

    def all(self) -> list[ReadableSpan]:
        tracing_flush()
        return list(self.exporter.get_finished_spans())

    def __call__(self) -> dict[str, ReadableSpan]:
        """The finished spans by name (the last of each name)."""
        return {span.name: span for span in self.all()}


@pytest.fixture
def spans() -> Iterator[Spans]:
    """Tracing on, exporting to memory."""
    exporter = InMemorySpanExporter()
    tracing_start(exporter)
    yield Spans(exporter)
    tracing_stop()


def _hex(number: int, width: int) -> str:
    return format(number, f"0{width}x")


def _recording_stub(httpserver, path: str, status: int = 200) -> list[dict[str, str]]:
    """The headers of each request the stub server received at ``path``."""
    received: list[dict[str, str]] = []

    def handler(request: Request) -> Response:
        received.append(dict(request.headers))
        return Response('{"ok": true}', status=status, content_type="application/json")

    httpserver.expect_request(path).respond_with_handler(handler)
    return received


def _call_then_transform(url: str) -> list[dict]:
    return [
        {"id": "call", "type": "api_call", "params": {"url": url}},
        {"id": "shape", "type": "transform", "params": {"values": {"n": 1}}},
    ]


def _execute(api, workflow, **headers: str) -> AutomationExecution:
    response = api.post(f"{BASE}/workflows/{workflow.pk}/execute", {}, format="json", **headers)
    assert response.status_code == 202, response.content
    return AutomationExecution.objects.get(pk=response.json()["execution_id"])


@pytest.mark.django_db
@pytest.mark.usefixtures("allow_loopback")
def test_a_callers_trace_runs_through_trigger_execution_steps_and_outbound_calls(
    api, httpserver, spans
):
    received = _recording_stub(httpserver, "/hooks/secret-path")
    url = httpserver.url_for("/hooks/secret-path") + "?api_key=secret-key"
    workflow = WorkflowFactory(actions=_call_then_transform(url))

    execution = _execute(api, workflow, HTTP_TRACEPARENT=CALLER)
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    assert execution.status == "completed", execution.error_message

    by_name = spans()
    server = next(span for name, span in by_name.items() if name.startswith("POST "))
    trigger = by_name["trigger manual"]
    run = by_name["execution"]
    call, shape = by_name["step api_call"], by_name["step transform"]
    client = by_name["GET"]
    # One trace, the caller's, and each span the child of the one before it.
    assert {_hex(each.context.trace_id, 32) for each in by_name.values()} == {CALLER_TRACE}
    assert server.parent is not None and _hex(server.parent.span_id, 16) == CALLER_SPAN
    assert "execute" in server.name and server.attributes["http.response.status_code"] == 202
    for child, parent in ((trigger, server), (run, trigger), (call, run), (shape, run)):
        assert child.parent is not None and child.parent.span_id == parent.context.span_id
    assert client.parent is not None and client.parent.span_id == call.context.span_id
    assert trigger.attributes["workflow.execution.id"] == execution.pk
    assert run.attributes["workflow.execution.attempt"] == 1
    assert call.attributes["workflow.step.id"] == "call"
    assert client.attributes["http.response.status_code"] == 200
    assert client.attributes["server.address"] == "127.0.0.1"
    # The outbound call carried the trace on, naming its own span as the parent.
    trace = f"00-{CALLER_TRACE}-{_hex(client.context.span_id, 16)}-01"
    assert received[0]["Traceparent"] == trace
    # Neither the path nor the query of a URL is written into a span.
    for each in by_name.values():
        assert "secret" not in repr(dict(each.attributes or {})) + each.name


@pytest.mark.django_db
@pytest.mark.usefixtures("allow_loopback")
def test_each_delivery_of_a_retried_execution_is_a_span_of_the_trigger_trace(
    api, httpserver, spans
):
    answers = iter([503, 200])

    def handler(_request: Request) -> Response:
        return Response("{}", status=next(answers), content_type="application/json")

    httpserver.expect_request("/flaky").respond_with_handler(handler)
    action = {
        "id": "call",
        "type": "api_call",
        "params": {"url": httpserver.url_for("/flaky")},
        "retry": {"max_attempts": 2, "backoff": "fixed", "delay_s": 0},
    }
    workflow = WorkflowFactory(actions=[action])
    execution = _execute(api, workflow, HTTP_TRACEPARENT=CALLER)
    for _ in range(2):
        execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    assert execution.status == "completed", execution.error_message

    runs = [span for span in spans.all() if span.name == "execution"]
    trigger = spans()["trigger manual"]
    assert sorted(span.attributes["workflow.execution.attempt"] for span in runs) == [1, 2]
    assert all(span.parent.span_id == trigger.context.span_id for span in runs)
    steps = [span for span in spans.all() if span.name == "step api_call"]
    assert [span.status.status_code for span in steps] == [StatusCode.ERROR, StatusCode.UNSET]
    assert steps[0].status.description and "503" in steps[0].status.description


@pytest.mark.django_db
@pytest.mark.usefixtures("allow_loopback")
def test_a_malformed_traceparent_is_ignored_and_a_new_trace_begins(api, spans):
    workflow = WorkflowFactory(actions=[ONE_STEP])
    execution = _execute(api, workflow, HTTP_TRACEPARENT="00-zz-not-a-trace")
    execution_run(execution_id=execution.pk, worker="test")

    by_name = spans()
    server = next(span for name, span in by_name.items() if name.startswith("POST "))
    assert server.parent is None
    assert by_name["execution"].context.trace_id == server.context.trace_id
    execution.refresh_from_db()
    assert execution.status == "completed", execution.error_message
    assert execution.traceparent.startswith(f"00-{_hex(server.context.trace_id, 32)}-")


@pytest.mark.django_db
@pytest.mark.usefixtures("allow_loopback")
def test_tracing_is_off_by_default_and_sends_no_traceparent(api, httpserver):
    received = _recording_stub(httpserver, "/off")
    workflow = WorkflowFactory(actions=_call_then_transform(httpserver.url_for("/off")))
    execution = _execute(api, workflow, HTTP_TRACEPARENT=CALLER)
    execution_run(execution_id=execution.pk, worker="test")

    assert not tracing_enabled()
    execution.refresh_from_db()
    assert execution.status == "completed"
    assert execution.traceparent == ""
    assert "Traceparent" not in received[0]


@pytest.mark.parametrize(
    ("environ", "configured"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "false"}, True),
    ],
)
def test_tracing_is_on_only_when_an_otlp_endpoint_is_configured(environ, configured):
    assert tracing_configured(environ) is configured


@pytest.mark.worker
@pytest.mark.usefixtures("allow_loopback")
def test_a_worker_exports_its_spans_over_otlp_in_the_callers_trace(
    api, httpserver, spans, start_worker
):
    """The real path: a worker configured by the OTEL_ variables sends its spans to an OTLP/HTTP
    collector (a stub on 127.0.0.1), in the trace the triggering request carried."""
    exported: list[ExportTraceServiceRequest] = []

    def collector(request: Request) -> Response:
        message = ExportTraceServiceRequest()
        message.ParseFromString(request.get_data())
        exported.append(message)
        return Response(b"", status=200, content_type="application/x-protobuf")

    httpserver.expect_request("/v1/traces", method="POST").respond_with_handler(collector)
    start_worker(
        OTEL_EXPORTER_OTLP_ENDPOINT=httpserver.url_for("/").rstrip("/"),
        OTEL_SERVICE_NAME="workflows-test",
        OTEL_BSP_SCHEDULE_DELAY="100",
    )
    workflow = WorkflowFactory(actions=[ONE_STEP])
    execution = _execute(api, workflow, HTTP_TRACEPARENT=CALLER)

    wait_for(lambda: AutomationExecution.objects.get(pk=execution.pk).status == "completed")

    def worker_spans() -> list:
        return [
            (resource.resource, span)
            for message in exported
            for resource in message.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]

    wait_for(lambda: {span.name for _, span in worker_spans()} >= {"execution", "step transform"})
    trigger = spans()["trigger manual"]
    by_name = {span.name: (resource, span) for resource, span in worker_spans()}
    resource, run = by_name["execution"]
    assert run.trace_id.hex() == CALLER_TRACE
    assert run.parent_span_id.hex() == _hex(trigger.context.span_id, 16)
    assert by_name["step transform"][1].parent_span_id == run.span_id
    service = {a.key: a.value.string_value for a in resource.attributes}["service.name"]
    assert service == "workflows-test"


def test_an_exception_leaving_a_span_fails_it_without_quoting_its_message(spans):
    with pytest.raises(ValueError), span("work"):
        raise ValueError("token=secret-value")

    work = spans()["work"]
    assert work.status.status_code is StatusCode.ERROR
    assert work.status.description == "ValueError"
    assert not work.events  # no exception event: its message could quote a secret
