"""A 10,000-slot backfill on PostgreSQL + Redis, and what it does to live work meanwhile.

One worker of concurrency 2. In one run, interleaved over the repetitions:
- backfill: ``backfill_start`` (what POST workflows/{id}/backfill calls) over the last 10,000
  minutes of a minutely schedule whose one step is a ``transform``, with the job's default
  ``max_concurrency`` (4), timed from the request to the last run finished;
- baseline: the same number of runs of the same workflow as a plain burst — ``execution_create``
  in a loop, no job, no cap — the quickest way this system runs that work;
- live work during each: a live schedule (an interval trigger, fired every 2 s by this process
  as Beat's tick does, so its runs go on the control lane) and a manual execution every 2 s (the
  ordinary lane). Their lag is ``started_at − scheduled_for`` (schedule) or ``started_at −
  created_at`` (manual), median / p95 / max, against the same with nothing else running.

    .venv/bin/python bench/backfill.py [--slots 10000] [--repeat 3]

Needs PostgreSQL and Redis, as bench/engine_throughput.py (its own database, Redis db 14).
"""

import argparse
import math
import os
import signal
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engine_throughput import _start_worker, prepare, write_results

LIVE_EVERY_S = 2.0


def _workflows() -> tuple[Any, Any, Any]:
    """The minutely schedule to backfill, the live interval schedule, the live manual one."""
    from workflows.services.workflows import workflow_create

    step = [{"id": "t", "type": "transform", "params": {"values": {"at": "{{ now }}"}}}]
    tag = uuid.uuid4().hex[:6]
    minutely = workflow_create(
        data={
            "name": f"minutely {tag}",
            "trigger": {"type": "schedule"},
            "schedule": "* * * * *",
            "actions": step,
            "is_active": False,  # no Beat here; the backfill runs its slots
        }
    )
    live = workflow_create(
        data={
            "name": f"live {tag}",
            "trigger": {"type": "schedule", "interval_s": int(LIVE_EVERY_S)},
            "actions": step,
        }
    )
    manual = workflow_create(data={"name": f"manual {tag}", "actions": step})
    return minutely, live, manual


class LiveWork:
    """Fires the live schedule at each of its slots (as Beat's tick would, less the up to a
    quarter interval Beat's tick may come after the slot) and starts a manual execution every
    LIVE_EVERY_S, until stopped."""

    def __init__(self, live: Any, manual: Any) -> None:
        self.live, self.manual = live, manual
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.started_at = time.time()

    def _run(self) -> None:
        from django.db import connection

        from workflows.schedules import interval_anchor
        from workflows.services.executions import execution_create
        from workflows.services.schedules import schedule_fire

        anchor = interval_anchor(self.live.trigger).timestamp()
        while not self.stop.wait(LIVE_EVERY_S - (time.time() - anchor) % LIVE_EVERY_S):
            schedule_fire(workflow_id=self.live.pk)
            execution_create(workflow=self.manual, trigger_type="manual")
        connection.close()

    def __enter__(self) -> "LiveWork":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()


def _lags_ms(workflow: Any, since: Any, field: str) -> list[float]:
    from workflows.models import AutomationExecution

    rows = AutomationExecution.objects.filter(
        workflow=workflow, created_at__gte=since, started_at__isnull=False
    ).values_list(field, "started_at")
    return [(started - origin).total_seconds() * 1000 for origin, started in rows]


def _lag_summary(lags: list[float]) -> dict[str, float]:
    if not lags:
        return {"count": 0}
    ordered = sorted(lags)
    return {
        "count": len(lags),
        "median": statistics.median(ordered),
        "p95": ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)],  # nearest rank
        "max": ordered[-1],
    }


def _wait_done(count: Callable[[], int], total: int, timeout_s: float = 1800) -> None:
    deadline = time.monotonic() + timeout_s
    while count() < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {count()} of {total} finished in {timeout_s} s")
        time.sleep(0.1)


def _measure(run: Callable[[], int], live: Any, manual: Any) -> dict[str, Any]:
    """Seconds ``run`` takes (it returns how many runs it started and waits for them), with the
    live work going on and its lag."""
    from django.utils import timezone

    since = timezone.now()
    with LiveWork(live, manual):
        started = time.perf_counter()
        runs = run()
        elapsed = time.perf_counter() - started
    time.sleep(LIVE_EVERY_S)  # the last live runs start
    return {
        "seconds": elapsed,
        "runs": runs,
        "per_second": runs / elapsed if elapsed else 0.0,
        "schedule_lag_ms": _lag_summary(_lags_ms(live, since, "scheduled_for")),
        "manual_lag_ms": _lag_summary(_lags_ms(manual, since, "created_at")),
    }


def _backfill(workflow: Any, slots: int) -> Callable[[], int]:
    def run() -> int:
        from django.utils import timezone

        from workflows.models import AutomationExecution, ExecutionStatus
        from workflows.services.backfill import backfill_start

        AutomationExecution.objects.filter(workflow=workflow).delete()
        end = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
        job, _slots, _already = backfill_start(
            workflow=workflow,
            start=end - timedelta(minutes=slots - 1),
            end=end,
            max_concurrency=4,
            actor=None,
        )
        done = AutomationExecution.objects.filter(job=job, status=ExecutionStatus.COMPLETED)
        _wait_done(done.count, job.total)
        return job.total

    return run


def _burst(workflow: Any, count: int) -> Callable[[], int]:
    def run() -> int:
        from workflows.models import AutomationExecution, ExecutionStatus
        from workflows.services.executions import execution_create

        AutomationExecution.objects.filter(workflow=workflow).delete()
        for _ in range(count):
            execution_create(workflow=workflow, trigger_type="manual")
        done = AutomationExecution.objects.filter(
            workflow=workflow, status=ExecutionStatus.COMPLETED
        )
        _wait_done(done.count, count)
        return count

    return run


def _idle(seconds: float) -> Callable[[], int]:
    def run() -> int:
        time.sleep(seconds)
        return 0

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--slots", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    os.environ.setdefault("JOB_MAX_ITEMS", str(max(10_000, args.slots)))
    env = prepare()
    minutely, live, manual = _workflows()
    # Both lanes, as a deployed worker consumes them: live schedule fires go on the control one.
    lanes = f"{env['CELERY_TASK_DEFAULT_QUEUE']},{env['CELERY_TASK_DEFAULT_QUEUE']}.control"
    worker = _start_worker(env, queue=lanes)
    scenarios = {
        "idle (live work only)": _idle(20),
        f"backfill of {args.slots} slots (max_concurrency 4)": _backfill(minutely, args.slots),
        f"burst of {args.slots} executions (baseline)": _burst(minutely, args.slots),
    }
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in scenarios}
    try:
        _backfill(minutely, 50)()  # warm-up
        for repetition in range(args.repeat):
            for name, run in scenarios.items():
                results[name].append(_measure(run, live, manual))
                last = results[name][-1]
                print(
                    f"  run {repetition + 1}: {name}: {last['seconds']:.1f} s, "
                    f"schedule lag p95 {last['schedule_lag_ms'].get('p95', 0):.0f} ms, "
                    f"manual lag p95 {last['manual_lag_ms'].get('p95', 0):.0f} ms",
                    flush=True,
                )
    finally:
        os.killpg(worker.pid, 9)
    summary = _report(results)
    write_results("backfill", {"slots": args.slots, "repeat": args.repeat, **summary})


def _median_of(runs: list[dict[str, Any]], *path: str) -> float:
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value.get(key, 0.0)
        values.append(float(value))
    return statistics.median(values)


def _report(results: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    print(f"\n{'scenario':52} {'seconds':>8} {'runs/s':>8} {'sched p50/p95/max ms':>22} "
          f"{'manual p50/p95/max ms':>23}")  # fmt: skip
    table: dict[str, Any] = {}
    for name, runs in results.items():
        row = {
            "seconds": _median_of(runs, "seconds"),
            "per_second": _median_of(runs, "per_second"),
            **{
                f"{kind}_{stat}": _median_of(runs, f"{kind}_lag_ms", stat)
                for kind in ("schedule", "manual")
                for stat in ("median", "p95", "max")
            },
        }
        table[name] = {"median": row, "runs": runs}
        print(
            f"{name:52} {row['seconds']:8.1f} {row['per_second']:8.1f} "
            f"{row['schedule_median']:6.0f}/{row['schedule_p95']:6.0f}/{row['schedule_max']:6.0f}  "
            f"{row['manual_median']:6.0f}/{row['manual_p95']:6.0f}/{row['manual_max']:6.0f}"
        )
    names = list(results)
    backfill, burst = table[names[1]]["median"], table[names[2]]["median"]
    ratio = burst["seconds"] / backfill["seconds"] if backfill["seconds"] else 0.0
    print(f"\nbackfill rate / burst rate: {ratio:.2f}×")
    return {"results": table, "backfill_to_burst": ratio}


if __name__ == "__main__":
    main()
