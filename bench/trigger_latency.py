"""Trigger latency: HTTP ``POST workflows/{id}/execute`` served by gunicorn as in production,
then trigger → first step started and trigger → completed, at 1 and at 16 concurrent clients.

The baseline, in the same run and through the same stack: ``GET executions/{id}`` (a token
check and one indexed read), so the figures show what triggering adds to a plain API call.
Server-side times come from the database (``created_at`` → the first step's ``started_at`` and
the execution's ``completed_at``). One gunicorn (2 workers × 4 threads) and one Celery worker of
concurrency 2, on PostgreSQL + Redis.

    .venv/bin/python bench/trigger_latency.py [--requests 400] [--repeat 3]
"""

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engine_throughput import (
    ROOT,
    _start_worker,
    _wait,
    prepare,
    write_results,
)


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "n": len(ordered)}


def _start_web(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = Path(env["DATA_DIR"]) / "web.log"
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", f"--bind=127.0.0.1:{port}",
         "--workers=2", "--worker-class=gthread", "--threads=4", "--no-control-socket"],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return web, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-2000:]}")


def _until_done(response_body: bytes) -> None:
    """Closed loop: a client waits for its execution to finish before it triggers the next, so
    the figures are latencies, not the length of a backlog."""
    from django.db import connection

    from workflows.models import AutomationExecution

    execution_id = json.loads(response_body)["execution_id"]
    finished = AutomationExecution.objects.filter(pk=execution_id, completed_at__isnull=False)
    while not finished.exists():
        time.sleep(0.002)
    connection.close()


def _clients(port: int, token: str, method: str, paths: list[str], clients: int) -> list[float]:
    """Send the requests from ``clients`` threads with keep-alive; return latencies in ms."""
    latencies: list[float] = []
    lock = threading.Lock()
    queue = list(paths)

    def client() -> None:
        from django.db import connection

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        while True:
            with lock:
                if not queue:
                    break
                path = queue.pop()
            started = time.perf_counter()
            conn.request(method, path, body=b"{}" if method == "POST" else None, headers=headers)
            response = conn.getresponse()
            body = response.read()
            elapsed = (time.perf_counter() - started) * 1000
            if response.status >= 400:
                raise RuntimeError(f"{method} {path}: {response.status}")
            with lock:
                latencies.append(elapsed)
            if method == "POST":
                _until_done(body)
        conn.close()
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def _server_side(workflow_id: int) -> tuple[list[float], list[float]]:
    from workflows.models import AutomationExecution, AutomationExecutionStep

    first_steps = dict(
        AutomationExecutionStep.objects.filter(
            execution__workflow_id=workflow_id, step_index=0
        ).values_list("execution_id", "started_at")
    )
    to_first, to_done = [], []
    for pk, created, completed in AutomationExecution.objects.filter(
        workflow_id=workflow_id
    ).values_list("pk", "created_at", "completed_at"):
        to_first.append((first_steps[pk] - created).total_seconds() * 1000)
        to_done.append((completed - created).total_seconds() * 1000)
    return to_first, to_done


def measure(port: int, token: str, requests: int, clients: int) -> dict[str, Any]:
    from workflows.models import AutomationExecution
    from workflows.services.workflows import workflow_create

    actions = [
        {"id": f"t{i}", "type": "transform", "params": {"values": {"n": i}}} for i in range(3)
    ]
    workflow = workflow_create(data={"name": f"latency {clients}", "actions": actions})
    execute = [f"/api/workflow-orchestration/workflows/{workflow.pk}/execute"] * requests
    post = _clients(port, token, "POST", execute, clients)
    done = AutomationExecution.objects.filter(workflow=workflow, status="completed")
    _wait(done.count, requests)
    some = done.values_list("pk", flat=True).first()
    reads = [f"/api/workflow-orchestration/executions/{some}"] * requests
    get = _clients(port, token, "GET", reads, clients)
    to_first, to_done = _server_side(workflow.pk)
    return {
        "post_execute_ms": _percentiles(post),
        "baseline_get_execution_ms": _percentiles(get),
        "trigger_to_first_step_ms": _percentiles(to_first),
        "trigger_to_completed_ms": _percentiles(to_done),
    }


def _median_of(runs: list[dict[str, Any]], metric: str, stat: str) -> dict[str, float]:
    values = [run[metric][stat] for run in runs]
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    env = prepare()
    from django.contrib.auth import get_user_model

    from workflows.services.tokens import api_token_create

    user = get_user_model().objects.create_user("bench", is_staff=True)
    _, token = api_token_create(user=user)
    worker = _start_worker(env)
    web, port = _start_web(env)
    report: dict[str, Any] = {}
    try:
        measure(port, token, 50, 4)  # warm-up
        for clients in (1, 16):
            runs = [measure(port, token, args.requests, clients) for _ in range(args.repeat)]
            report[f"{clients} clients"] = {
                metric: {stat: _median_of(runs, metric, stat) for stat in ("p50", "p95", "p99")}
                for metric in runs[0]
            }
    finally:
        for process in (web, worker):
            os.killpg(process.pid, signal.SIGKILL)
    for clients, metrics in report.items():
        print(f"\n{clients}, {args.requests} requests x {args.repeat} runs (median of runs; range)")
        for metric, stats in metrics.items():
            line = ", ".join(
                f"{stat} {v['median']:.1f} ({v['min']:.1f}-{v['max']:.1f})"
                for stat, v in stats.items()
            )
            print(f"  {metric:28} {line} ms")
    write_results("trigger_latency", {"report": report})


if __name__ == "__main__":
    main()
