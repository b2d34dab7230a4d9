"""Tracing by OpenTelemetry: a request, the trigger it makes, each delivery of the execution that
trigger started, each step and each outbound HTTP call are spans of one trace — the caller's
trace when the request carried a W3C ``traceparent``.

Off unless an OTLP endpoint is configured (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_ENDPOINT``; ``OTEL_SDK_DISABLED=true`` turns it off again). Off, every
function here is one test of a module variable: no span, no context, no header.

Spans never carry a URL's path or query, headers or bodies: they can hold secrets (a Slack
webhook's path, a bot token, an API key). An outbound call names its origin only.
"""

import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

SERVICE_NAME = "workflow-orchestration"
_propagator = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None
_tracer: trace.Tracer | None = None


def tracing_configured(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment asks for traces: an OTLP endpoint, and the SDK not disabled."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(
        environ.get(name, "").strip()
        for name in ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def tracing_start(exporter: SpanExporter | None = None) -> None:
    """Export spans in batches to ``exporter``, by default OTLP over HTTP to the endpoint the
    ``OTEL_EXPORTER_OTLP_*`` variables name (the exporter reads them, headers included)."""
    global _provider, _tracer
    tracing_stop()
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    service = os.environ.get("OTEL_SERVICE_NAME", "").strip() or SERVICE_NAME
    # The batch processor re-creates its export thread in a forked child (Celery's pool).
    _provider = TracerProvider(resource=Resource.create({"service.name": service}))
    _provider.add_span_processor(BatchSpanProcessor(exporter))
    _tracer = _provider.get_tracer("workflow_orchestration")


def tracing_stop() -> None:
    """Flush what is pending and turn tracing off."""
    global _provider, _tracer
    if _provider is not None:
        _provider.shutdown()
    _provider = _tracer = None


def tracing_flush() -> None:
    if _provider is not None:
        _provider.force_flush()


def tracing_enabled() -> bool:
    return _tracer is not None


@contextmanager
def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: str = "",
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[trace.Span | None]:
    """A span around the block, the current one inside it; a child of ``parent`` (a
    ``traceparent`` value) when given, else of the current span. An exception leaving the block
    marks the span failed with the exception's type only: its message may quote a secret."""
    if _tracer is None:
        yield None
        return
    context = _propagator.extract({"traceparent": parent}) if parent else None
    with _tracer.start_as_current_span(
        name,
        context=context,
        kind=kind,
        attributes=dict(attributes or {}),
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
        try:
            yield current
        except BaseException as exc:
            current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


def span_failed(description: str) -> None:
    """Mark the current span failed; ``description`` must already be free of secrets."""
    if _tracer is not None:
        trace.get_current_span().set_status(Status(StatusCode.ERROR, description))


def span_set(**attributes: Any) -> None:
    """Add attributes to the current span (dots written as ``__``: ``http__route``)."""
    if _tracer is not None:
        current = trace.get_current_span()
        for key, value in attributes.items():
            current.set_attribute(key.replace("__", "."), value)


def traceparent() -> str:
    """The current span's ``traceparent``, to continue its trace elsewhere; "" when off."""
    if _tracer is None:
        return ""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent", "")


def headers_inject(headers: MutableMapping[str, str]) -> None:
    """Add ``traceparent`` (and ``tracestate``) of the current span to outgoing headers."""
    if _tracer is not None:
        _propagator.inject(headers)


@contextmanager
def context_from_headers(headers: Mapping[str, str]) -> Iterator[None]:
    """Make the trace context an incoming request carries the current one (nothing when off or
    when the headers carry none, or a malformed one)."""
    if _tracer is None or "traceparent" not in headers:
        yield
        return
    token = otel_context.attach(_propagator.extract(headers))
    try:
        yield
    finally:
        otel_context.detach(token)
