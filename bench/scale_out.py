"""Scale-out: the same executions shared by one and by two worker processes (concurrency 1 each,
separate hostnames), and the database statements one execution costs, so the figures say what a
bigger machine would get.

For each worker count, N executions of engine_throughput's 3-step ``transform`` workflow are
triggered through the service the API uses; the rate is first trigger → last finish. Then it
checks that no execution ran twice (every execution claimed once: ``attempt`` 1, each step one
attempt) and reports each worker's share from its log. The statements are counted in this
process, on the same code path a worker takes (``execution_create``, then ``execution_run``),
over 20 executions.

    .venv/bin/python bench/scale_out.py [--executions 2000] [--repeat 3]

Needs PostgreSQL and Redis, as engine_throughput.py.
"""

import os
import re
import signal
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engine_throughput import (
    _start_worker,
    arguments,
    prepare,
    run_engine,
    write_results,
)

TASK_DONE = re.compile(r"Task workflows\.run_execution\[[^\]]+\] succeeded")


def statements_per_execution(samples: int = 20) -> dict[str, float]:
    """Statements one execution costs: at the trigger, and in the worker."""
    from celery import current_app
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.engine_throughput import workflow_three_transforms
    from workflows.broker import bulk_lane
    from workflows.engine import execution_run
    from workflows.services.executions import execution_create

    workflow = workflow_three_transforms()
    trigger, worker = [], []
    for n in range(samples):
        with CaptureQueriesContext(connection) as created:
            execution, _ = execution_create(
                workflow=workflow, trigger_type="manual", payload={"n": n}
            )
        with CaptureQueriesContext(connection) as ran:
            execution_run(execution_id=execution.pk, worker="bench")
        trigger.append(len(created))
        worker.append(len(ran))
    with current_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(bulk_lane())  # the messages no worker needs now
    return {"trigger": statistics.median(trigger), "worker": statistics.median(worker)}


def _run_twice_check(workflow_ids: list[int]) -> dict[str, int]:
    from workflows.models import AutomationExecution, AutomationExecutionStep

    executions = AutomationExecution.objects.filter(workflow_id__in=workflow_ids)
    steps = AutomationExecutionStep.objects.filter(execution__workflow_id__in=workflow_ids)
    return {
        "executions": executions.count(),
        "claimed more than once": executions.exclude(attempt=1).count(),
        "steps run more than once": steps.exclude(attempts=1).count(),
    }


def measure(env: dict[str, str], processes: int, count: int, repeat: int) -> dict[str, Any]:
    from workflows.models import AutomationWorkflow

    before = set(AutomationWorkflow.objects.values_list("pk", flat=True))
    workers = [
        _start_worker(env, name=f"scale{processes}-{n}", concurrency=1) for n in range(processes)
    ]
    try:
        run_engine(50)  # warm-up
        rates = [run_engine(count) for _ in range(repeat)]
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGKILL)
    logs = [Path(env["DATA_DIR"]) / f"scale{processes}-{n}.log" for n in range(processes)]
    shares = [len(TASK_DONE.findall(log.read_text())) for log in logs]
    ours = set(AutomationWorkflow.objects.values_list("pk", flat=True)) - before
    return {
        "rates": rates,
        "median": statistics.median(rates),
        "executions per worker": shares,
        **_run_twice_check(sorted(ours)),
    }


def main() -> None:
    args = arguments(__doc__ or "")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    env = prepare()
    statements = statements_per_execution()
    results = {
        f"{processes} worker process(es)": measure(env, processes, args.executions, args.repeat)
        for processes in (1, 2)
    }
    print(f"\n{args.executions} executions per run, {args.repeat} runs, concurrency 1 each\n")
    for name, result in results.items():
        runs = ", ".join(f"{rate:.1f}" for rate in result["rates"])
        print(f"{name:24} {result['median']:7.1f}/s  (runs {runs})")
        print(f"  executions per worker {result['executions per worker']}; "
              f"claimed more than once {result['claimed more than once']}, "
              f"steps run more than once {result['steps run more than once']}")  # fmt: skip
    one, two = (result["median"] for result in results.values())
    print(f"two processes / one: {two / one:.2f}×")
    print(f"statements per execution: {statements['trigger']:.0f} at the trigger, "
          f"{statements['worker']:.0f} in the worker")  # fmt: skip
    write_results("scale_out", {"results": results, "statements": statements})
    for result in results.values():
        if result["claimed more than once"] or result["steps run more than once"]:
            raise SystemExit("an execution ran twice")


if __name__ == "__main__":
    main()
