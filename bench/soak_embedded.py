"""A soak of the embedded default: ``manage.py serve`` with no services configured, a burst of
200 executions every 2 minutes and a schedule every 10 s, for 30 minutes.

Checked and reported: serve never stopped and restarted nothing (health's ``processes``), every
execution completed, each scheduled slot ran once, and the worst queue lag seen by health (polled
every 5 s) and by the executions themselves (created → started).

    .venv/bin/python bench/soak_embedded.py [--minutes 30] [--burst 200] [--every 120]
"""

import argparse
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engine_throughput import write_results
from bench.serve_harness import Serve, count, transform_workflow


def executions_of(serve: Serve, workflow_id: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    page = 1
    while True:
        status, body = serve.request(
            "GET", f"/executions?workflow={workflow_id}&page_size=200&page={page}"
        )
        assert status == 200, body
        results += body["results"]
        if not body["next"]:
            return results
        page += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--every", type=float, default=120, help="seconds between bursts")
    args = parser.parse_args()
    serve = Serve().start()
    health_lags: list[float] = []
    restarts: list[int] = []
    stop = threading.Event()

    def watch_health() -> None:
        while not stop.wait(5):
            _, report = serve.request("GET", "/health")
            queue = report["components"]["queue"]
            health_lags.append(float(queue.get("lag_s") or 0))
            processes = report["components"].get("processes", {}).get("children", {})
            restarts.append(sum(child["restarts"] for child in processes.values()))

    try:
        bursts = transform_workflow(serve, "soak bursts")
        scheduled = transform_workflow(
            serve,
            "soak schedule",
            value="{{ trigger.scheduled_for }}",
            trigger={"type": "schedule", "interval_s": 10},
        )
        watcher = threading.Thread(target=watch_health, daemon=True)
        watcher.start()
        started = time.monotonic()
        sent = 0
        next_burst = started
        with ThreadPoolExecutor(max_workers=16) as pool:
            while time.monotonic() - started < args.minutes * 60:
                if not serve.alive():
                    raise RuntimeError(f"serve stopped:\n{serve.log_text()[-3000:]}")
                if time.monotonic() >= next_burst:
                    list(
                        pool.map(
                            lambda n: serve.request(
                                "POST", f"/workflows/{bursts}/execute", {"n": n}
                            ),
                            range(args.burst),
                        )
                    )
                    sent += args.burst
                    next_burst += args.every
                time.sleep(1)
        serve.request("PATCH", f"/workflows/{scheduled}", {"is_active": False})
        deadline = time.monotonic() + 300
        while count(serve, bursts, "completed") < sent and time.monotonic() < deadline:
            time.sleep(1)
        stop.set()
        runs = executions_of(serve, bursts) + executions_of(serve, scheduled)
    finally:
        stop.set()
        alive = serve.alive()
        serve.stop()
    statuses: dict[str, int] = {}
    for run in runs:
        statuses[run["status"]] = statuses.get(run["status"], 0) + 1
    waits = [
        (
            datetime.fromisoformat(run["started_at"]) - datetime.fromisoformat(run["created_at"])
        ).total_seconds()
        for run in runs
        if run["started_at"]
    ]
    slots = [run for run in runs if run["workflow"] == scheduled]
    record = {
        "minutes": args.minutes,
        "executions": len(runs),
        "statuses": statuses,
        "scheduled_runs": len(slots),
        "serve_alive_at_end": alive,
        "restarts": max(restarts, default=0),
        "worst_health_lag_s": max(health_lags, default=0.0),
        "median_health_lag_s": statistics.median(health_lags) if health_lags else 0.0,
        "worst_queue_wait_s": max(waits, default=0.0),
    }
    print(f"soak of {args.minutes:g} min on the embedded default:")
    for key, value in record.items():
        print(f"  {key}: {value}")
    write_results("soak_embedded", record)
    ok = alive and record["restarts"] == 0 and statuses == {"completed": len(runs)}
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
