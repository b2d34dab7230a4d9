"""Wall time of 16 parallel calls against 16 sequential ones (and one call), in one process.

A local stub (ThreadingHTTPServer on 127.0.0.1) answers every request after 200 ms. The pattern
classes run through the same scheduler and HTTP client as production runs, without the database.
Prints medians with their range and the ratios, and writes JSON to bench/results/.

    .venv/bin/python bench/orchestration_fanout.py [--repeat 5] [--calls 16] [--latency-ms 200]
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def _django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="bench-orchestration-")
    os.environ["OUTBOUND_ALLOWED_HOSTS"] = "127.0.0.1"
    import django

    django.setup()


class _Slow(BaseHTTPRequestHandler):
    latency_s = 0.2

    def do_GET(self) -> None:
        time.sleep(self.latency_s)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a backlog of 5 would drop SYNs under a 16-way fan-out


def _stub(latency_ms: int) -> _Server:
    _Slow.latency_s = latency_ms / 1000
    server = _Server(("127.0.0.1", 0), _Slow)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def _scenarios(calls: int) -> dict[str, tuple[str, int, int]]:
    """name → (pattern, number of calls, pool size)."""
    from django.conf import settings

    pool = int(settings.ORCHESTRATION_POOL_SIZE)
    return {
        "single": ("sequential", 1, 1),
        "sequential": ("sequential", calls, 1),
        f"parallel_pool_{pool}": ("parallel", calls, pool),
        f"parallel_pool_{calls}": ("parallel", calls, calls),
    }


def _runner(url: str, pattern_name: str, calls: int, pool: int) -> Callable[[int], float]:
    from django.conf import settings

    from orchestration.patterns import pattern_get
    from orchestration.patterns.base import Plan
    from orchestration.patterns.scheduler import plan_run

    plan = Plan.from_definition(
        {"api_calls": [{"id": f"c{n}", "method": "GET", "url": url} for n in range(calls)]}
    )

    def run(repetition: int) -> float:
        settings.ORCHESTRATION_POOL_SIZE = pool
        started = time.perf_counter()
        state = plan_run(pattern_get(pattern_name), plan, input={}, key_prefix=f"bench{repetition}")
        elapsed = time.perf_counter() - started
        failed = [i for i, outcome in state.outcomes.items() if outcome.status != "succeeded"]
        if failed:
            raise SystemExit(f"calls failed: {failed}: {state.outcomes[failed[0]].error}")
        return elapsed * 1000

    return run


def _summary(samples: list[float]) -> dict[str, Any]:
    return {
        "median_ms": round(statistics.median(samples), 1),
        "min_ms": round(min(samples), 1),
        "max_ms": round(max(samples), 1),
        "samples_ms": [round(sample, 1) for sample in samples],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="repetitions per scenario (>= 3)")
    parser.add_argument("--calls", type=int, default=16)
    parser.add_argument("--latency-ms", type=int, default=200)
    args = parser.parse_args()
    if args.repeat < 3:
        parser.error("--repeat must be at least 3")
    _django_setup()
    server = _stub(args.latency_ms)
    url = f"http://127.0.0.1:{server.server_address[1]}/slow"
    scenarios = _scenarios(args.calls)
    runners = {name: _runner(url, *spec) for name, spec in scenarios.items()}
    for run in runners.values():
        run(-1)  # warm up: imports, template compilation, thread start-up
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for repetition in range(args.repeat):  # interleaved, so drift hits every scenario alike
        for name, run in runners.items():
            samples[name].append(run(repetition))
    server.shutdown()
    results = {name: _summary(values) for name, values in samples.items()}
    _report(args, scenarios, results)


def _report(args: argparse.Namespace, scenarios: dict[str, Any], results: dict[str, Any]) -> None:
    median = {name: result["median_ms"] for name, result in results.items()}
    parallel = [name for name in results if name.startswith("parallel")]
    ratios = {
        f"sequential/{name}": round(median["sequential"] / median[name], 2) for name in parallel
    }
    ratios.update(
        {f"{name}/single": round(median[name] / median["single"], 2) for name in parallel}
    )
    print(f"{args.calls} calls, stub latency {args.latency_ms} ms, {args.repeat} repetitions")
    for name, result in results.items():
        pattern, calls, pool = scenarios[name]
        print(
            f"  {name:<20} {pattern:<10} calls={calls:<3} pool={pool:<3}"
            f" median {result['median_ms']:8.1f} ms  (range {result['min_ms']:.1f}"
            f" to {result['max_ms']:.1f})"
        )
    for name, ratio in ratios.items():
        print(f"  {name:<34} {ratio:6.2f}x")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"orchestration_fanout-{stamp}.json"
    document = {
        "benchmark": "orchestration_fanout",
        "at": stamp,
        "calls": args.calls,
        "latency_ms": args.latency_ms,
        "repeat": args.repeat,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "scenarios": {
            name: {"pattern": s[0], "calls": s[1], "pool": s[2], **results[name]}
            for name, s in scenarios.items()
        },
        "ratios": ratios,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"  written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
