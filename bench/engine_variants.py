"""The engine's throughput under variations of its worker, in one run (PostgreSQL + Redis).

Scenarios, interleaved over the repetitions, each with a fresh worker of concurrency 2 running
the 3-step ``transform`` workflow of bench/engine_throughput.py:
- the default: prefetch multiplier 1, tracing off (no OTLP endpoint configured);
- prefetch multiplier 4 (acks late either way): does prefetch 1 starve the worker?
- tracing on: the worker and this process (which triggers) export every span over OTLP/HTTP to
  a collector stub on 127.0.0.1 that decodes and counts them, so the spans are shown to arrive.
It also times the off path of tracing on its own: the tracing calls one execution makes (a
trigger, an execution, three steps) with tracing off, against the time of one execution.

    .venv/bin/python bench/engine_variants.py [--executions 2000] [--repeat 3]
"""

import os
import signal
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engine_throughput import (
    _start_worker,
    _summary,
    arguments,
    prepare,
    print_rates,
    write_results,
)

OFF = "engine, defaults (prefetch 1, tracing off)"
PREFETCH_4 = "engine, prefetch multiplier 4"
ON = "engine, tracing on (OTLP/HTTP to a local collector)"
# name: (worker arguments, traced)
VARIANTS: dict[str, tuple[list[str], bool]] = {
    OFF: ([], False),
    PREFETCH_4: (["--prefetch-multiplier=4"], False),
    ON: ([], True),
}


class _Collector(BaseHTTPRequestHandler):
    spans = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        message = ExportTraceServiceRequest()
        message.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
        count = sum(len(scope.spans) for r in message.resource_spans for scope in r.scope_spans)
        with _Collector.lock:
            _Collector.spans += count
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _off_path_us(repeat: int = 200_000) -> float:
    """Microseconds of the tracing calls one 3-step execution makes, with tracing off."""
    from core.tracing import span, span_failed, span_set, traceparent, tracing_enabled

    assert not tracing_enabled()
    attributes = {"workflow.id": 1, "workflow.step.type": "transform"}
    started = time.perf_counter()
    for _ in range(repeat):
        for _ in range(5):  # trigger, execution, three steps
            with span("s", attributes=attributes):
                span_set(workflow__step__attempt=1)
        traceparent()
        span_failed("")
    return (time.perf_counter() - started) / repeat * 1e6


def _run(
    env: dict[str, str], count: int, options: list[str], traced: bool, collector_url: str
) -> float:
    from bench.engine_throughput import run_engine
    from core.tracing import tracing_flush, tracing_start, tracing_stop

    worker_env = dict(env)
    if traced:
        worker_env.update(
            OTEL_EXPORTER_OTLP_ENDPOINT=collector_url,
            OTEL_SERVICE_NAME="bench",
            OTEL_BSP_SCHEDULE_DELAY="200",
        )
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector_url
        tracing_start()
    worker = _start_worker(worker_env, name="variant", options=options)
    try:
        run_engine(50)  # warm-up: imports, connections, template caches
        if traced:
            tracing_flush()
            time.sleep(1)  # the worker's batches of the warm-up (sent every 200 ms) are in
        before = _Collector.spans
        rate = run_engine(count)
        if traced:
            tracing_flush()
            expected = before + count * 5  # trigger, execution, three steps
            deadline = time.monotonic() + 60
            while _Collector.spans < expected and time.monotonic() < deadline:
                time.sleep(0.1)
            if _Collector.spans < expected:
                raise RuntimeError(f"{_Collector.spans - before} of {count * 5} spans arrived")
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        tracing_stop()
        os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    return rate


def main() -> None:
    args = arguments(__doc__ or "")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    env = prepare()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    collector_url = f"http://127.0.0.1:{server.server_port}"
    off_path = statistics.median(_off_path_us() for _ in range(5))
    rates: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for repetition in range(args.repeat):
        for name, (options, traced) in VARIANTS.items():
            rates[name].append(_run(env, args.executions, options, traced, collector_url))
            print(f"  run {repetition + 1}: {name}: {rates[name][-1]:.1f}/s", flush=True)
    server.shutdown()
    results = {name: _summary(values) for name, values in rates.items()}
    off = results[OFF]["median"]
    ratios = {f"{name} / defaults": results[name]["median"] / off for name in (PREFETCH_4, ON)}
    share = off_path / (1e6 / off) * 100
    print(f"\n{args.executions} per run, {args.repeat} runs, one worker of concurrency 2\n")
    print_rates(results, ratios)
    print(f"{'tracing off: its calls per execution':65} {off_path:6.2f} µs ({share:.3f} %)")
    write_results(
        "engine_variants",
        {
            "executions": args.executions,
            "repeat": args.repeat,
            "results": results,
            "ratios": ratios,
            "off path per execution (µs)": off_path,
            "off path share of an execution (%)": share,
            "spans received": _Collector.spans,
        },
    )


if __name__ == "__main__":
    main()
