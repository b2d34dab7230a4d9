"""A burst on the embedded default: 200 executions of a 3-step ``transform`` workflow posted at
once (16 client threads) to ``manage.py serve`` with no services configured (SQLite and the
embedded broker), timed from the first POST to the last execution finished, read over the API.

Also reported per burst: ``run_execution`` messages the worker received per execution (the
sweep must not re-send work that is merely waiting), and, as the floor from the same run, the
same 200 executions run by the engine in-process on a copy of the same kind of database (no
HTTP, no broker, no worker).

    .venv/bin/python bench/embedded_burst.py [--executions 200] [--repeat 3]

Goal: each burst finished within 10 s.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engine_throughput import write_results
from bench.serve_harness import Serve, count, transform_workflow


def burst(serve: Serve, executions: int) -> tuple[float, float]:
    """Seconds from the first POST to the last execution finished; messages per execution."""
    workflow_id = transform_workflow(serve, f"burst {time.time_ns()}")
    before = serve.received("workflows.run_execution")
    started = time.perf_counter()

    def post(n: int) -> None:
        status, body = serve.request("POST", f"/workflows/{workflow_id}/execute", {"n": n})
        if status != 202:
            raise RuntimeError(f"execute answered {status}: {body}")

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(post, range(executions)))
    deadline = time.monotonic() + 600
    while count(serve, workflow_id, "completed") < executions:
        if time.monotonic() > deadline or not serve.alive():
            raise RuntimeError(f"burst did not finish:\n{serve.log_text()[-3000:]}")
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    time.sleep(1)  # late duplicates would show up in the log by now
    messages = serve.received("workflows.run_execution") - before
    return elapsed, messages / executions


def in_process_floor(executions: int) -> float:
    """The same executions run by the engine in this process, on a fresh SQLite database."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATA_DIR=tempfile.mkdtemp(prefix="bench-floor-"),
        LOG_LEVEL="WARNING",
    )
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from workflows.engine import execution_run
    from workflows.services.executions import execution_create
    from workflows.services.workflows import workflow_create

    actions = [
        {"id": f"t{i}", "type": "transform", "params": {"values": {"n": "{{ trigger.n }}"}}}
        for i in range(3)
    ]
    workflow = workflow_create(data={"name": "floor", "actions": actions})
    started = time.perf_counter()
    for n in range(executions):
        execution, _ = execution_create(workflow=workflow, trigger_type="manual", payload={"n": n})
        execution_run(execution_id=execution.pk, worker="bench")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    serve = Serve().start()
    try:
        burst(serve, 10)  # warm-up: workers' first imports and connections
        results = [burst(serve, args.executions) for _ in range(args.repeat)]
    finally:
        serve.stop()
    floor = in_process_floor(args.executions)
    times = [elapsed for elapsed, _ in results]
    per_execution = [messages for _, messages in results]
    median = statistics.median(times)
    print(f"{args.executions} executions posted at once to bin/serve (embedded default):")
    print(f"  drained in {median:.2f} s median ({min(times):.2f}–{max(times):.2f}), goal ≤ 10 s")
    print(f"  run_execution messages per execution: {max(per_execution):.3f} at most")
    print(f"  floor, the engine in-process: {floor:.2f} s (the burst takes {median / floor:.1f}×)")
    write_results(
        "embedded_burst",
        {
            "executions": args.executions,
            "drain_s": {"median": median, "min": min(times), "max": max(times), "runs": times},
            "messages_per_execution": per_execution,
            "in_process_floor_s": floor,
        },
    )


if __name__ == "__main__":
    main()
