"""Trigger latency: HTTP ``POST workflows/{id}/execute`` served by gunicorn as in production,
then trigger → first step started and trigger → completed, at 1 and at 16 concurrent clients.

Baselines, in the same run: ``GET executions/{id}`` through the same stack (a token check and
one indexed read), so the figures show what triggering adds to a plain API call; and a raw chain
of three tasks in a plain Celery app with default settings (bench/plain_celery.py, its own
worker of concurrency 2), with and without an INSERT + UPDATE per task, timed from just before
the enqueue to the first task's start and to the last task's end, by the same number of closed-
loop clients. The engine's times come from the database (``created_at`` → the first step's
``started_at`` and the execution's ``completed_at``). One gunicorn (2 workers × 4 threads) and
one Celery worker of concurrency 2, on PostgreSQL + Redis.

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
import uuid
from collections.abc import Callable
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


class _Finishes:
    """Closed loop: a client waits for its execution to finish before it triggers the next, so
    the figures are latencies, not the length of a backlog. One thread watches every client's
    execution with one query each few milliseconds (sixteen clients polling on their own would
    load the database more than the engine does)."""

    def __init__(self) -> None:
        self._waiting: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def wait(self, response_body: bytes) -> None:
        done = threading.Event()
        with self._lock:
            self._waiting[json.loads(response_body)["execution_id"]] = done
        if not done.wait(timeout=60):
            raise RuntimeError("an execution did not finish in 60 s")

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        from django.db import connection

        from workflows.models import AutomationExecution

        while not self._stop.wait(0.002):
            with self._lock:
                ids = list(self._waiting)
            if not ids:
                continue
            finished = AutomationExecution.objects.filter(
                pk__in=ids, completed_at__isnull=False
            ).values_list("pk", flat=True)
            for pk in finished:
                with self._lock:
                    self._waiting.pop(pk).set()
        connection.close()


def _in_threads(client: Callable[[], None], clients: int) -> None:
    """Run ``clients`` copies of ``client`` at once and wait for all of them."""
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _clients(port: int, token: str, method: str, paths: list[str], clients: int) -> list[float]:
    """Send the requests from ``clients`` threads with keep-alive; return latencies in ms."""
    latencies: list[float] = []
    lock = threading.Lock()
    queue = list(paths)
    finishes = _Finishes()

    def client() -> None:
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
                finishes.wait(body)
        conn.close()

    _in_threads(client, clients)
    finishes.close()
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


PLAIN_QUEUE = "plain-default"


def measure_plain(requests: int, clients: int, writes: bool) -> dict[str, Any]:
    """Closed-loop clients each enqueue a raw three-task chain and wait for its end."""
    import redis
    from celery import chain

    from bench.plain_celery import BROKER, app

    to_first: list[float] = []
    to_done: list[float] = []
    lock = threading.Lock()
    remaining = [requests]

    def client() -> None:
        connection = redis.Redis.from_url(BROKER)
        while True:
            with lock:
                if remaining[0] == 0:
                    break
                remaining[0] -= 1
            key = f"latency:{uuid.uuid4().hex}"
            links = [
                app.signature(name, args=args, immutable=True, queue=PLAIN_QUEUE)
                for name, args in (
                    ("plain.started", [key, writes]),
                    ("plain.step", [writes]),
                    ("plain.finished", [key, writes]),
                )
            ]
            enqueued = time.time()
            chain(*links).apply_async()
            popped = connection.blpop([f"{key}:finished"], timeout=30)
            if popped is None:
                raise RuntimeError("a plain chain did not finish in 30 s")
            started = float(connection.get(f"{key}:started") or 0)
            with lock:
                to_first.append((started - enqueued) * 1000)
                to_done.append((float(popped[1]) - enqueued) * 1000)
        connection.close()

    _in_threads(client, clients)
    kind = "writes" if writes else "no-op"
    return {
        f"plain chain ({kind}) enqueue_to_first_task_ms": _percentiles(to_first),
        f"plain chain ({kind}) enqueue_to_done_ms": _percentiles(to_done),
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
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    plain_env = {**env, "BENCH_DATABASE_URL": env["DATABASE_URL"],
                 "BENCH_REDIS": env["CELERY_BROKER_URL"], "PLAIN_ACKS_LATE": "0"}  # fmt: skip
    os.environ["BENCH_REDIS"] = env["CELERY_BROKER_URL"]
    processes = [
        _start_worker(env),
        _start_worker(plain_env, app="bench.plain_celery", queue=PLAIN_QUEUE, name=PLAIN_QUEUE),
    ]
    web, port = _start_web(env)
    processes.append(web)
    report: dict[str, Any] = {}
    try:
        measure(port, token, 50, 4)  # warm-up
        measure_plain(50, 4, writes=True)
        for clients in (1, 16):
            runs = []
            for _ in range(args.repeat):  # interleaved: each run sees the same machine
                run = measure(port, token, args.requests, clients)
                run.update(measure_plain(args.requests, clients, writes=False))
                run.update(measure_plain(args.requests, clients, writes=True))
                runs.append(run)
            report[f"{clients} clients"] = {
                metric: {stat: _median_of(runs, metric, stat) for stat in ("p50", "p95", "p99")}
                for metric in runs[0]
            }
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGKILL)
    for clients, metrics in report.items():
        print(f"\n{clients}, {args.requests} requests x {args.repeat} runs (median of runs; range)")
        for metric, stats in metrics.items():
            line = ", ".join(
                f"{stat} {v['median']:.1f} ({v['min']:.1f}-{v['max']:.1f})"
                for stat, v in stats.items()
            )
            print(f"  {metric:46} {line} ms")
    ratios = _ratios(report)
    for name, ratio in ratios.items():
        print(f"{name:76} {ratio:6.2f}×")
    write_results("trigger_latency", {"report": report, "ratios": ratios})


def _ratios(report: dict[str, Any]) -> dict[str, float]:
    """The engine's p95 over the plain chain's, per client count (medians of the runs)."""
    ratios = {}
    for clients, metrics in report.items():
        for kind in ("no-op", "writes"):
            for ours, theirs in (
                ("trigger_to_first_step_ms", "enqueue_to_first_task_ms"),
                ("trigger_to_completed_ms", "enqueue_to_done_ms"),
            ):
                engine = metrics[ours]["p95"]["median"]
                plain = metrics[f"plain chain ({kind}) {theirs}"]["p95"]["median"]
                ratios[f"{clients}: engine {ours} p95 / plain chain ({kind})"] = engine / plain
    return ratios


if __name__ == "__main__":
    main()
