"""Engine throughput against raw Celery chains, measured in one run on PostgreSQL + Redis.

One worker of concurrency 2 per scenario. The scenarios, interleaved over the repetitions:
- engine: N executions of a 3-step ``transform`` workflow (no I/O), triggered through the same
  service the API uses (a committed row, then a message), counted done when every execution is
  finished in the database;
- plain Celery (bench/plain_celery.py: its own app, no Django, default settings): N chains of
  three no-op tasks, and N chains of three tasks that each INSERT and UPDATE one row — the floor
  any durable engine pays; and the same two with ``acks_late`` + prefetch 1;
- the same two chains inside the project's Celery app and settings (bench/chain_tasks.py).
Each figure is executions (or chains) completed per second, from the first trigger to the last
completion. Prints medians with their range and the engine's ratio to each; writes JSON to
bench/results/.

    .venv/bin/python bench/engine_throughput.py [--executions 2000] [--repeat 3]

Needs PostgreSQL and Redis (DATABASE_URL's server, default postgres://postgres@127.0.0.1:5432;
CELERY_BROKER_URL, default redis://127.0.0.1:6379/14). It creates and drops its own database.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DATABASE = "bench_engine"


def _environment(server_url: str, broker_url: str) -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"{server_url.rstrip('/')}/{DATABASE}",
        "CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_DEFAULT_QUEUE": f"bench-{uuid.uuid4().hex[:8]}",
        "DATA_DIR": tempfile.mkdtemp(prefix="bench-engine-"),
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    return {**os.environ, **env}


def _create_database(server_url: str) -> None:
    import psycopg

    with psycopg.connect(f"{server_url.rstrip('/')}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_rows "
            "(id bigserial PRIMARY KEY, n integer, done boolean DEFAULT false)"
        )


def _start_worker(
    env: dict[str, str],
    app: str = "config",
    queue: str = "",
    name: str = "worker",
    concurrency: int = 2,
    options: list[str] | None = None,
) -> subprocess.Popen[bytes]:
    """A Celery worker: the project's (with the baselines' tasks), or the plain app's on
    ``queue``; ``name`` is its hostname's first part and names its log file; ``options`` are
    more command-line options."""
    log = Path(env["DATA_DIR"]) / f"{name}.log"
    include = ["--include=bench.chain_tasks"] if app == "config" else []
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", app, "worker", f"--concurrency={concurrency}",
         "--loglevel=INFO", "-Q", queue or env["CELERY_TASK_DEFAULT_QUEUE"], *include,
         *(options or []),
         f"--hostname={name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if b" ready." in log.read_bytes():
            return worker
        time.sleep(0.1)
    raise RuntimeError(f"worker did not start:\n{log.read_text()[-2000:]}")


def _wait(done: Callable[[], int], total: int, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while done() < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {done()} of {total} finished in {timeout_s} s")
        time.sleep(0.02)


def workflow_three_transforms() -> Any:
    """The benchmarks' workflow: three ``transform`` steps, each rendering one template."""
    from workflows.services.workflows import workflow_create

    actions = [
        {
            "id": f"t{i}",
            "type": "transform",
            "params": {"values": {"n": f"{{{{ trigger.n + {i} }}}}"}},
        }
        for i in range(3)
    ]
    return workflow_create(data={"name": f"bench {uuid.uuid4().hex[:6]}", "actions": actions})


def run_engine(count: int) -> float:
    from workflows.models import AutomationExecution, ExecutionStatus
    from workflows.services.executions import execution_create

    workflow = workflow_three_transforms()
    finished = AutomationExecution.objects.filter(
        workflow=workflow, status__in=[ExecutionStatus.COMPLETED, ExecutionStatus.FAILED]
    )
    started = time.perf_counter()
    for n in range(count):
        execution_create(workflow=workflow, trigger_type="manual", payload={"n": n})
    _wait(finished.count, count)
    elapsed = time.perf_counter() - started
    failed = finished.filter(status=ExecutionStatus.FAILED).count()
    if failed:
        raise RuntimeError(f"{failed} executions failed")
    return count / elapsed


def _run_chains(count: int, step: str, last: str) -> float:
    import redis
    from celery import chain
    from django.conf import settings

    from config.celery import app

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    counter = f"bench:{uuid.uuid4().hex}"
    signature = app.signature
    started = time.perf_counter()
    for _ in range(count):
        chain(signature(step, immutable=True), signature(step, immutable=True),
              signature(last, args=[counter], immutable=True)).apply_async()  # fmt: skip
    _wait(lambda: int(client.get(counter) or 0), count)
    elapsed = time.perf_counter() - started
    client.delete(counter)
    return count / elapsed


def run_noop_chains(count: int) -> float:
    return _run_chains(count, "bench.noop", "bench.noop_last")


def run_write_chains(count: int) -> float:
    return _run_chains(count, "bench.write", "bench.write_last")


# The plain app's variants: the queue its worker serves, and whether it acks late.
PLAIN_QUEUES = {"plain-default": "0", "plain-acks-late": "1"}


def _run_plain_chains(count: int, queue: str, step: str, last: str) -> float:
    import redis
    from celery import chain

    from bench.plain_celery import BROKER, app

    client = redis.Redis.from_url(BROKER)
    counter = f"bench:{uuid.uuid4().hex}"
    signature = app.signature
    started = time.perf_counter()
    steps = [step, step]
    for _ in range(count):
        links = [signature(name, immutable=True, queue=queue) for name in steps]
        chain(*links, signature(last, args=[counter], immutable=True, queue=queue)).apply_async()
    _wait(lambda: int(client.get(counter) or 0), count)
    elapsed = time.perf_counter() - started
    client.delete(counter)
    return count / elapsed


def _plain(queue: str, writes: bool) -> Callable[[int], float]:
    step, last = (
        ("plain.write", "plain.write_last") if writes else ("plain.noop", "plain.noop_last")
    )
    return lambda count: _run_plain_chains(count, queue, step, last)


ENGINE = "engine (3-step transform workflow)"
PLAIN_NOOP = "plain Celery: 3 no-op tasks"
PLAIN_WRITES = "plain Celery: 3 tasks, INSERT + UPDATE each"
SCENARIOS: dict[str, Callable[[int], float]] = {
    PLAIN_NOOP: _plain("plain-default", writes=False),
    PLAIN_WRITES: _plain("plain-default", writes=True),
    "plain Celery, acks late + prefetch 1: 3 no-op tasks": _plain("plain-acks-late", writes=False),
    "plain Celery, acks late + prefetch 1: 3 writing tasks": _plain("plain-acks-late", writes=True),
    "project's Celery settings: 3 no-op tasks": run_noop_chains,
    "project's Celery settings: 3 writing tasks": run_write_chains,
    ENGINE: run_engine,
}


def prepare() -> dict[str, str]:
    """A fresh benchmark database on BENCH_POSTGRES's server, migrated; this process set up on
    it and on BENCH_REDIS. Returns the environment for the processes a benchmark starts."""
    server = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
    broker = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")
    _create_database(server)
    env = _environment(server, broker)
    _setup()
    return env


def write_results(name: str, record: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {"benchmark": name, "at": datetime.now(UTC).isoformat(), **record}
    (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=2, default=str))


def _summary(rates: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates), "runs": rates}


def print_rates(results: dict[str, Any], ratios: dict[str, float]) -> None:
    """Each scenario's median rate with its range, then the ratios."""
    for name, summary in results.items():
        low, high = summary["min"], summary["max"]
        print(f"{name:56} {summary['median']:8.1f}/s  (range {low:.1f}–{high:.1f})")
    for name, ratio in ratios.items():
        print(f"{name:65} {ratio:6.2f}×")


def arguments(doc: str) -> argparse.Namespace:
    """The throughput benchmarks' options: executions per run and runs."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    return parser.parse_args()


def main() -> None:
    args = arguments(__doc__ or "")
    # A timeout's SIGTERM still stops the workers (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    env = prepare()
    workers = [_start_worker(env)]
    for queue, acks_late in PLAIN_QUEUES.items():
        plain_env = {
            **env,
            "BENCH_DATABASE_URL": env["DATABASE_URL"],
            "BENCH_REDIS": env["CELERY_BROKER_URL"],
            "PLAIN_ACKS_LATE": acks_late,
        }
        workers.append(_start_worker(plain_env, app="bench.plain_celery", queue=queue, name=queue))
    os.environ["BENCH_REDIS"] = env["CELERY_BROKER_URL"]
    try:
        for run in SCENARIOS.values():  # warm-up: imports, connections, template caches
            run(50)
        rates: dict[str, list[float]] = {name: [] for name in SCENARIOS}
        for repetition in range(args.repeat):
            for name, run in SCENARIOS.items():
                rates[name].append(run(args.executions))
                print(f"  run {repetition + 1}: {name}: {rates[name][-1]:.1f}/s", flush=True)
    finally:
        for worker in workers:
            os.killpg(worker.pid, 9)
    results = {name: _summary(values) for name, values in rates.items()}
    engine = results[ENGINE]["median"]
    ratios = {
        f"engine / {name}": engine / summary["median"]
        for name, summary in results.items()
        if name != ENGINE
    }
    print(f"\n{args.executions} per run, {args.repeat} runs, one worker of concurrency 2 each\n")
    print_rates(results, ratios)
    write_results(
        "engine_throughput",
        {
            "executions": args.executions,
            "repeat": args.repeat,
            "results": results,
            "ratios": ratios,
        },
    )


if __name__ == "__main__":
    main()
