"""Latency of the stats and list endpoints with 1,000,000 executions and 3,000,000 steps.

Creates (or reuses, with --reuse) a dedicated PostgreSQL database, migrates it, seeds it with COPY,
then times each endpoint through Django's test client (the whole request: middleware,
authentication, views, selectors, queries, JSON rendering) and prints a table of median and p95
latencies; writes JSON to bench/results/.

    .venv/bin/python bench/stats_at_scale.py [--executions 1000000] [--requests 50] [--reuse]

The server is ``--server`` (default postgres://postgres@127.0.0.1:5432); the database is
``bench_stats`` on it, dropped and created again unless --reuse finds it already seeded.
"""

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DATABASE = "bench_stats"
API = "/api/workflow-orchestration"
WORKFLOWS = 20
HISTORY_DAYS = 90
STEPS = (("fetch", "api_call"), ("shape", "transform"), ("announce", "notify"))
# Of the newest executions, this many are still waiting or running (live work).
QUEUED, RUNNING = 150, 50


def _prepare_database(server: str, reuse: bool, executions: int) -> tuple[str, bool]:
    """Create (or keep) the database and migrate it; returns its URL and whether to seed."""
    import psycopg

    url = f"{server.rstrip('/')}/{DATABASE}"
    with psycopg.connect(f"{server.rstrip('/')}/postgres", autocommit=True) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]
        ).fetchone()
        if exists and reuse:
            with psycopg.connect(url) as db:
                row = db.execute("SELECT count(*) FROM workflows_automationexecution").fetchone()
            if row and row[0] == executions:
                _migrate(url)
                return url, False
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    _migrate(url)
    return url, True


def _migrate(url: str) -> None:
    env = dict(os.environ, DATABASE_URL=url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity=0"], cwd=ROOT, env=env, check=True
    )


def _django_setup(url: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="bench-stats-"))
    import django

    django.setup()


def _copy_value(value: Any) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _constant_columns(model: Any, varying: tuple[str, ...]) -> dict[str, str]:
    """Every other concrete column of ``model`` at its model default, in COPY text form, so the
    seed keeps working when a column is added."""
    columns = {}
    for field in model._meta.concrete_fields:
        if field.column in varying or field.primary_key:
            continue
        columns[field.column] = _copy_value(field.get_default() if field.has_default() else None)
    return columns


def _copy(table: str, columns: list[str], lines: Iterator[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            buffer = io.StringIO()
            for count, line in enumerate(lines, 1):
                buffer.write(line)
                if count % 50_000 == 0:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())


def _status(index: int, total: int, rng: random.Random) -> str:
    newest = total - index
    if newest <= QUEUED:
        return "queued"
    if newest <= QUEUED + RUNNING:
        return "running"
    roll = rng.random()
    return "completed" if roll < 0.85 else "failed" if roll < 0.97 else "cancelled"


def _seed_workflows() -> list[int]:
    from workflows.models import AutomationWorkflow

    actions = [
        {"id": step_id, "type": "transform", "params": {"values": {"x": 1}}} for step_id, _ in STEPS
    ]
    workflows = AutomationWorkflow.objects.bulk_create(
        AutomationWorkflow(name=f"Bench workflow {n}", actions=actions, is_active=n % 4 != 0)
        for n in range(WORKFLOWS)
    )
    return [workflow.pk for workflow in workflows]


def _step_rows(execution_id: int, status: str, created: datetime, took: int) -> Iterator[list[Any]]:
    if status == "queued":
        return
    for index, (step_id, step_type) in enumerate(STEPS):
        last = index == len(STEPS) - 1
        step_status, error = "completed", ""
        if status == "failed" and last:
            step_status, error = "failed", f"{step_type} answered 503 Service Unavailable"
        elif status == "running" and last:
            step_status = "running"
        elif status == "cancelled" and last:
            step_status = "skipped"
        started = created + timedelta(milliseconds=took * index // 3)
        yield [
            index, step_id, step_id, step_type, step_status, error, 1, started,
            started + timedelta(milliseconds=took // 3), took // 3, execution_id,
        ]  # fmt: skip


def _seed(total: int) -> dict[str, Any]:
    from workflows.models import AutomationExecution, AutomationExecutionStep

    rng = random.Random(7)
    workflow_ids = _seed_workflows()
    # The first workflow is hot (a fifth of all runs): its stats are the worst case.
    weights = [WORKFLOWS * 0.25] + [1.0] * (WORKFLOWS - 1)
    now = datetime.now(UTC)
    start = now - timedelta(days=HISTORY_DAYS)
    spacing = timedelta(days=HISTORY_DAYS) / total

    execution_varying = (
        "id", "workflow_id", "status", "trigger_type", "created_at", "started_at",
        "completed_at", "execution_time_ms", "steps_completed", "steps_total", "error_message",
    )  # fmt: skip
    step_varying = (
        "step_index", "step_id", "step_name", "step_type", "status", "error_message", "attempts",
        "started_at", "completed_at", "execution_time_ms", "execution_id",
    )  # fmt: skip
    execution_constant = _constant_columns(AutomationExecution, execution_varying)
    step_constant = _constant_columns(AutomationExecutionStep, step_varying)
    steps: list[list[Any]] = []

    def execution_lines() -> Iterator[str]:
        tail = "\t".join(execution_constant.values())
        for index in range(total):
            execution_id = index + 1
            status = _status(index, total, rng)
            created = start + spacing * index
            took = int(rng.lognormvariate(6.5, 0.8))
            started = created + timedelta(milliseconds=20) if status != "queued" else None
            finished = status in ("completed", "failed", "cancelled")
            completed = created + timedelta(milliseconds=took) if finished else None
            error = "Step 'announce' failed: notify answered 503" if status == "failed" else ""
            workflow_id = rng.choices(workflow_ids, weights)[0]
            row = [
                execution_id, workflow_id, status, "manual", created, started, completed,
                took if finished else None, 3 if status == "completed" else 2, 3, error,
            ]  # fmt: skip
            steps.extend(_step_rows(execution_id, status, created, took))
            yield "\t".join([*map(_copy_value, row), tail]) + "\n"

    def step_lines() -> Iterator[str]:
        tail = "\t".join(step_constant.values())
        for row in steps:
            yield "\t".join([*map(_copy_value, row), tail]) + "\n"

    started_at = time.monotonic()
    _copy(
        AutomationExecution._meta.db_table,
        [*execution_varying, *execution_constant],
        execution_lines(),
    )
    executions_s = time.monotonic() - started_at
    _copy(AutomationExecutionStep._meta.db_table, [*step_varying, *step_constant], step_lines())
    step_count = len(steps)
    steps.clear()
    _finish_seed()
    return {
        "executions": total,
        "steps": step_count,
        "workflows": WORKFLOWS,
        "copy_executions_s": round(executions_s, 1),
        "seed_total_s": round(time.monotonic() - started_at, 1),
    }


def _finish_seed() -> None:
    """Identity sequences past the copied ids and fresh planner statistics."""
    from django.db import connection

    from workflows.models import AutomationExecution, AutomationExecutionStep

    with connection.cursor() as cursor:
        for model in (AutomationExecution, AutomationExecutionStep):
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        cursor.execute("VACUUM ANALYZE")


def _rollups() -> dict[str, Any]:
    """The first refresh rebuilds the rollups from every execution (as on an upgrade); a second
    one is what Beat runs every minute."""
    from analytics.services import rollup_refresh

    started = time.monotonic()
    buckets = rollup_refresh()
    first_s = time.monotonic() - started
    started = time.monotonic()
    rollup_refresh()
    return {
        "buckets": buckets,
        "first_refresh_s": round(first_s, 2),
        "next_refresh_ms": round((time.monotonic() - started) * 1000, 1),
    }


def _time(client: Any, path: str, requests: int) -> dict[str, Any]:
    for _ in range(3):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.content[:500])
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    ordered = sorted(samples)
    return {
        "path": path,
        "requests": requests,
        "median_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95 + 0.5) - 1)], 1),
        "max_ms": round(ordered[-1], 1),
    }


def _deep_activity_path(client: Any, pages: int) -> str:
    """The activity page ``pages`` pages deep (50 items each), reached through its cursor."""
    from analytics.selectors.activity import Cursor
    from workflows.models import AutomationExecution

    offset = pages * 50 // 2  # two execution kinds per execution, roughly
    row = (
        AutomationExecution.objects.filter(completed_at__isnull=False)
        .order_by("-completed_at", "-pk")
        .values_list("completed_at", "pk")[offset : offset + 1]
        .get()
    )
    cursor = Cursor(at=row[0], kind="execution.finished", id=row[1]).encode()
    return f"{API}/activity?cursor={cursor}"


def _deep_keyset(pages: int) -> str:
    """The executions keyset cursor of page ``pages`` (50 a page, newest first)."""
    import base64
    from urllib.parse import quote, urlencode

    from workflows.models import AutomationExecution

    last_of_previous = AutomationExecution.objects.order_by("-id").values_list("id", flat=True)[
        (pages - 1) * 50 - 1
    ]
    return quote(base64.b64encode(urlencode({"p": last_of_previous}).encode()).decode())


def _measure(requests: int) -> list[dict[str, Any]]:
    from django.test import Client

    from tests.factories import UserFactory
    from workflows.models import AutomationWorkflow

    staff = UserFactory(username="bench-staff", is_staff=True)
    client = Client()
    client.force_login(staff)
    hot = AutomationWorkflow.objects.order_by("pk").values_list("pk", flat=True)[0]
    paths = {
        "stats": f"{API}/stats",
        "workflows/{id}/stats": f"{API}/workflows/{hot}/stats",
        "executions?page=1": f"{API}/executions?page=1",
        "executions?page=1000": f"{API}/executions?page=1000",
        "executions?cursor= (page 1)": f"{API}/executions?cursor=",
        "executions?cursor= (page ~1000)": f"{API}/executions?cursor={_deep_keyset(1000)}",
        "workflows?page=1": f"{API}/workflows?page=1",
        "activity (page 1)": f"{API}/activity",
        "activity (page ~1000)": _deep_activity_path(client, 1000),
    }
    results = []
    for name, path in paths.items():
        results.append({"endpoint": name, **_time(client, path, requests)})
        print(f"  {name}: {results[-1]['median_ms']} ms median", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    args = parser.parse_args()

    url, seed = _prepare_database(args.server, args.reuse, args.executions)
    _django_setup(url)
    seeded: dict[str, Any] = {"reused": True}
    if seed:
        print(f"seeding {args.executions:,} executions …", flush=True)
        seeded = _seed(args.executions)
        print(f"seeded in {seeded['seed_total_s']} s: {seeded}", flush=True)
    rollups = _rollups()
    print(f"rollups: {rollups}", flush=True)
    print(f"timing {args.requests} requests per endpoint …", flush=True)
    results = _measure(args.requests)

    print(f"\n| endpoint | median | p95 | max |  ({args.requests} requests each)")
    print("|---|---|---|---|")
    for row in results:
        cells = [row["endpoint"], *(f"{row[key]} ms" for key in ("median_ms", "p95_ms", "max_ms"))]
        print(f"| {' | '.join(cells)} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    record = {"at": stamp, "seed": seeded, "rollups": rollups, "results": results}
    path = RESULTS / f"stats_at_scale-{stamp}.json"
    path.write_text(json.dumps(record, indent=2))
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
