"""What a step costs the database, and whether a worker's memory stays flat.

Part 1 (in this process, PostgreSQL): runs executions of 1, 3 and 10 steps through the engine
with Django's query capture and reports the queries of the trigger, of the claim-and-finish
overhead and of each step — for steps with side effects (``api_call`` to a local stub) and
without (``transform``). The baseline is a raw Celery task doing one INSERT and one UPDATE: 2.

Part 2 (a real worker, concurrency 2, PostgreSQL + Redis): runs N executions (default 10,000) of
a 3-step transform workflow and samples the worker's resident memory (main process plus pool
children) before, along the way and after. The baseline is the idle worker's memory at start.

    .venv/bin/python bench/step_cost.py [--executions 10000] [--repeat 3]
"""

import argparse
import os
import signal
import statistics
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engine_throughput import (
    _start_worker,
    _wait,
    prepare,
    write_results,
)


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK"}


def _queries(steps: int, kind: str, url: str) -> dict[str, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from workflows.engine import execution_run
    from workflows.services.executions import execution_create
    from workflows.services.workflows import workflow_create

    def action(i: int) -> dict[str, Any]:
        if kind == "api_call":
            return {"id": f"s{i}", "type": "api_call", "params": {"url": url}}
        return {"id": f"s{i}", "type": "transform", "params": {"values": {"n": i}}}

    workflow = workflow_create(
        data={"name": f"{kind} {steps}", "actions": [action(i) for i in range(steps)]}
    )
    with CaptureQueriesContext(connection) as trigger:
        execution, _ = execution_create(workflow=workflow, trigger_type="manual")
    with CaptureQueriesContext(connection) as run:
        execution_run(execution_id=execution.pk, worker="bench")
    statements = [q for q in run.captured_queries if q["sql"] not in TRANSACTION_CONTROL]
    return {
        "trigger": len(trigger.captured_queries),
        "run": len(statements),
        "run_round_trips": len(run.captured_queries),
    }


def part_queries() -> dict[str, Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    from django.conf import settings

    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    report: dict[str, Any] = {}
    for kind in ("transform", "api_call"):
        counts = {steps: _queries(steps, kind, url) for steps in (1, 3, 10)}
        per_step = (counts[10]["run"] - counts[1]["run"]) / 9
        trips = (counts[10]["run_round_trips"] - counts[1]["run_round_trips"]) / 9
        report[kind] = {
            "trigger": counts[1]["trigger"],
            "run_by_steps": {steps: c["run"] for steps, c in counts.items()},
            "per_step": per_step,
            "round_trips_per_step": trips,
            "per_execution_overhead": counts[1]["run"] - per_step,
        }
    server.shutdown()
    return report


def _memory_kb(pid: int) -> dict[str, int]:
    """Memory of a process and its pool children: RSS counts the pages the forked children share
    with their parent once per process; PSS divides shared pages among their sharers."""
    totals = {"rss": 0, "pss": 0}
    for folder in [Path(f"/proc/{pid}"), *_children(pid)]:
        try:
            for line in (folder / "smaps_rollup").read_text().splitlines():
                name, _, value = line.partition(":")
                if name in ("Rss", "Pss"):
                    totals[name.lower()] += int(value.split()[0])
        except FileNotFoundError:
            continue
    return totals


def _children(pid: int) -> list[Path]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(stat.parent)
    return found


def _sample(executions: int, pid: int) -> dict[str, float]:
    memory = _memory_kb(pid)
    return {
        "executions": executions,
        "rss_mb": memory["rss"] / 1024,
        "pss_mb": memory["pss"] / 1024,
    }


def part_memory(env: dict[str, str], executions: int) -> dict[str, Any]:
    from workflows.models import AutomationExecution
    from workflows.services.executions import execution_create
    from workflows.services.workflows import workflow_create

    actions = [
        {"id": f"t{i}", "type": "transform", "params": {"values": {"n": "{{ trigger.n }}"}}}
        for i in range(3)
    ]
    workflow = workflow_create(data={"name": "memory", "actions": actions})
    worker = _start_worker(env)
    samples = [_sample(0, worker.pid)]
    batch = max(1, executions // 10)
    done = AutomationExecution.objects.filter(workflow=workflow, status="completed")
    try:
        for sent in range(batch, executions + 1, batch):
            for n in range(batch):
                execution_create(workflow=workflow, trigger_type="manual", payload={"n": n})
            _wait(done.count, sent)
            samples.append(_sample(sent, worker.pid))
            print(
                f"  {sent} executions: worker PSS {samples[-1]['pss_mb']:.1f} MB, "
                f"RSS {samples[-1]['rss_mb']:.1f} MB",
                flush=True,
            )
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
    return {"samples": samples, "growth_mb": samples[-1]["pss_mb"] - samples[1]["pss_mb"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    env = prepare()
    runs = [part_queries() for _ in range(args.repeat)]
    queries = runs[-1]
    assert all(run == queries for run in runs), "query counts must not vary between runs"
    print("\nDatabase queries (Django query capture, PostgreSQL); baseline: a raw task with")
    print("one INSERT and one UPDATE makes 2 per task\n")
    for kind, figures in queries.items():
        print(
            f"{kind:10} trigger {figures['trigger']}, per step {figures['per_step']:.1f} "
            f"({figures['round_trips_per_step']:.1f} round trips with BEGIN/COMMIT), "
            f"claim + finish {figures['per_execution_overhead']:.1f}, "
            f"runs of 1/3/10 steps: {figures['run_by_steps']}"
        )
    memory = part_memory(env, args.executions)
    samples = memory["samples"]
    print(
        f"\nWorker memory (main + 2 pool processes), PSS: idle {samples[0]['pss_mb']:.1f} MB "
        f"(the baseline), after {samples[1]['executions']} {samples[1]['pss_mb']:.1f} MB, after "
        f"{samples[-1]['executions']} {samples[-1]['pss_mb']:.1f} MB; growth after warm-up "
        f"{memory['growth_mb']:+.1f} MB; median "
        f"{statistics.median(s['pss_mb'] for s in samples[1:]):.1f} MB (RSS, which counts the "
        f"shared pages once per process: {samples[-1]['rss_mb']:.1f} MB)"
    )
    write_results("step_cost", {"queries": queries, "memory": memory})


if __name__ == "__main__":
    main()
