"""The numbers of ``GET stats`` and ``GET workflows/{id}/stats``.

Counters and timelines add the rollups of closed hours to the live hours aggregated on the spot,
so their cost follows the number of workflows and hours kept, not the executions stored; queued,
running and waiting ones are counted live through the status indexes. Percentiles come from a
bounded sample: the most recent PERCENTILE_SAMPLE completed or failed executions.
"""

import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, OuterRef, Q, Subquery, Sum, TextField, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from analytics.models import ExecutionRollup, StepFailureRollup
from analytics.selectors import health
from analytics.selectors.activity import activity_feed
from analytics.selectors.buckets import (
    RATED,
    SUMMED,
    LiveWindow,
    Scope,
    Sums,
    closed_sums,
    day_floor,
    live_window,
    step_failure_buckets,
)
from analytics.selectors.timeline import daily, hourly
from workflows.models import (
    FINISHED_STATUSES,
    AutomationExecution,
    AutomationWorkflow,
    ExecutionStatus,
)
from workflows.selectors import success_rate

PERCENTILE_SAMPLE = 1000
TOP_FAILING = 5
# Top failing workflows and failures by step count over the daily timeline's 30 days.
FAILURE_DAYS_BACK = timedelta(days=29)
RECENT_ACTIVITY = 10
# Queued, running, waiting…: counted live (few rows, indexed by status).
_UNFINISHED = tuple(status for status in ExecutionStatus.values if status not in FINISHED_STATUSES)


def percentile(values: list[int], fraction: float) -> int | None:
    """Nearest-rank percentile of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _recent_times(workflow_id: int | None) -> tuple[list[int], list[int]]:
    """Active times, and waits for a worker (created → started), of the most recent finished
    executions."""
    executions = AutomationExecution.objects.filter(
        status__in=RATED, execution_time_ms__isnull=False
    )
    if workflow_id is not None:
        executions = executions.filter(workflow_id=workflow_id)
    recent = executions.order_by("-created_at").values_list(
        "execution_time_ms", "created_at", "started_at"
    )[:PERCENTILE_SAMPLE]
    active: list[int] = []
    waits: list[int] = []
    for time_ms, created_at, started_at in recent:
        active.append(time_ms or 0)
        if started_at is not None:
            waits.append(max(0, int((started_at - created_at).total_seconds() * 1000)))
    return active, waits


def _finished_totals(workflow_id: int | None, live: LiveWindow) -> Sums:
    closed = closed_sums(by=None, workflow_id=workflow_id, since=None, until=live.since)
    totals = closed.get(None) or dict.fromkeys(SUMMED, 0)
    for bucket in live.buckets.values():
        for name in SUMMED:
            totals[name] += getattr(bucket, name)
    return totals


def _counters(workflow_id: int | None, now: datetime, live: LiveWindow) -> dict[str, Any]:
    executions = AutomationExecution.objects.all()
    if workflow_id is not None:
        executions = executions.filter(workflow_id=workflow_id)
    unfinished: dict[str, int] = dict.fromkeys(_UNFINISHED, 0)
    rows = executions.filter(status__in=_UNFINISHED).values("status").annotate(n=Count("id"))
    unfinished.update({row["status"]: row["n"] for row in rows.order_by()})
    finished = _finished_totals(workflow_id, live)
    times, waits = _recent_times(workflow_id)
    completed, failed = finished["completed"], finished["failed"]
    by_status = {**unfinished, "completed": completed, "failed": failed,
                 "cancelled": finished["cancelled"]}  # fmt: skip
    average = finished["time_total_ms"] / finished["timed"] if finished["timed"] else None
    return {
        "total": sum(by_status.values()),
        "last_24h": executions.filter(created_at__gte=now - timedelta(hours=24)).count(),
        **by_status,
        "success_rate": success_rate(completed, failed),
        "avg_execution_time_ms": round(average, 1) if average is not None else None,
        "p50_execution_time_ms": percentile(times, 0.5),
        "p95_execution_time_ms": percentile(times, 0.95),
        "p50_queue_wait_ms": percentile(waits, 0.5),
        "p95_queue_wait_ms": percentile(waits, 0.95),
    }


def _failure_window_start(now: datetime) -> datetime:
    """The first day of the daily timeline: failures are ranked over the same 30 days."""
    return day_floor(now) - FAILURE_DAYS_BACK


def _top_failing(now: datetime, live: LiveWindow) -> list[dict[str, Any]]:
    since = _failure_window_start(now)
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    closed = closed_sums(by="workflow", workflow_id=None, since=since, until=live.since)
    for workflow_id, sums in closed.items():
        counts[workflow_id] = [sums["failed"], sums["completed"]]
    for bucket in live.buckets.values():
        counts[bucket.workflow_id][0] += bucket.failed
        counts[bucket.workflow_id][1] += bucket.completed
    ranked = sorted((item for item in counts.items() if item[1][0]), key=lambda i: (-i[1][0], i[0]))
    top = dict(ranked[:TOP_FAILING])
    latest_error = Subquery(
        ExecutionRollup.objects.filter(
            workflow=OuterRef("pk"), failed__gt=0, hour__gte=since, hour__lt=live.since
        )
        .order_by("-last_failed_at")
        .values("last_error")[:1]
    )
    workflows = {
        row["pk"]: row
        for row in AutomationWorkflow.objects.filter(pk__in=top)
        .annotate(last_error=Coalesce(latest_error, Value(""), output_field=TextField()))
        .values("pk", "name", "last_error")
    }
    live_errors = _live_errors(live)
    return [
        {
            "workflow_id": workflow_id,
            "name": workflows[workflow_id]["name"],
            "failure_count": failed,
            "failure_rate": round(failed / (failed + completed), 4),
            "last_error": live_errors.get(workflow_id) or workflows[workflow_id]["last_error"],
        }
        for workflow_id, (failed, completed) in top.items()
        if workflow_id in workflows
    ]


def _live_errors(live: LiveWindow) -> dict[int, str]:
    """Each workflow's latest error in the live window."""
    latest: dict[int, tuple[datetime, str]] = {}
    for bucket in live.buckets.values():
        if bucket.last_failed_at is None:
            continue
        known = latest.get(bucket.workflow_id)
        if known is None or bucket.last_failed_at > known[0]:
            latest[bucket.workflow_id] = (bucket.last_failed_at, bucket.last_error)
    return {workflow_id: error for workflow_id, (_, error) in latest.items()}


def _summary(now: datetime, live: LiveWindow) -> dict[str, Any]:
    workflows = AutomationWorkflow.objects.aggregate(
        total=Count("id"), active=Count("id", filter=Q(is_active=True))
    )
    return {
        "workflows": workflows,
        "executions": _counters(None, now, live),
        "health": health.system_health(),
    }


def stats_summary(*, now: datetime | None = None) -> dict[str, Any]:
    """The part of ``stats_overview`` a live header shows: workflow counts, execution counters
    and times, and system health; without the timelines, rankings and activity, so it is cheap
    enough to poll as often as the pages' live parts."""
    now = now or timezone.now()
    return _summary(now, live_window(now=now))


def stats_overview(*, now: datetime | None = None) -> dict[str, Any]:
    """Everything ``GET stats`` shows: workflows, execution counters and times, hourly (24 h)
    and daily (30 d) timelines, the workflows failing most over the last 30 days, recent
    activity and system health.

    ``success_rate`` is completed ÷ (completed + failed), None when neither; cancelled executions
    are not in it. ``avg_execution_time_ms`` is over every completed or failed execution kept;
    the percentiles over the most recent PERCENTILE_SAMPLE of them.
    """
    now = now or timezone.now()
    live = live_window(now=now)
    summary = _summary(now, live)
    return {
        "workflows": summary["workflows"],
        "executions": summary["executions"],
        "timeline": {
            "hourly": hourly(workflow_id=None, hours=24, now=now, live=live),
            "daily": daily(workflow_id=None, days=30, now=now, live=live),
        },
        "top_failing_workflows": _top_failing(now, live),
        "recent_activity": activity_feed(limit=RECENT_ACTIVITY)["results"],
        "health": summary["health"],
    }


def _failures_by_step(workflow_id: int, now: datetime, live: LiveWindow) -> list[dict[str, Any]]:
    since = _failure_window_start(now)
    steps: dict[tuple[str, str], dict[str, Any]] = {}
    closed = StepFailureRollup.objects.filter(
        workflow_id=workflow_id, hour__gte=since, hour__lt=live.since
    )
    latest_error = Subquery(
        closed.filter(step_id=OuterRef("step_id"), step_type=OuterRef("step_type"))
        .order_by("-last_failed_at")
        .values("last_error")[:1]
    )
    rows = (
        closed.values("step_id", "step_type")
        .annotate(failures=Sum("failures"), last_failed_at=Max("last_failed_at"))
        .annotate(last_error=latest_error)
        .order_by()
    )
    for row in rows:
        steps[(row["step_id"], row["step_type"])] = dict(row)
    scope = Scope(since=live.since, workflow_ids=[workflow_id])
    for bucket in step_failure_buckets(scope=scope).values():
        step = steps.setdefault(
            (bucket.step_id, bucket.step_type),
            {"step_id": bucket.step_id, "step_type": bucket.step_type, "failures": 0,
             "last_failed_at": None, "last_error": ""},
        )  # fmt: skip
        step["failures"] += bucket.failures
        if bucket.last_failed_at and (
            step["last_failed_at"] is None or bucket.last_failed_at > step["last_failed_at"]
        ):
            step["last_failed_at"], step["last_error"] = bucket.last_failed_at, bucket.last_error
    ranked = sorted(steps.values(), key=lambda step: (-step["failures"], step["step_id"]))
    return [
        {
            "step_id": step["step_id"],
            "step_type": step["step_type"],
            "failures": step["failures"],
            "last_error": step["last_error"] or "",
        }
        for step in ranked
    ]


def workflow_stats_detail(
    *, workflow: AutomationWorkflow, now: datetime | None = None
) -> dict[str, Any]:
    """Everything ``GET workflows/{id}/stats`` shows: the workflow's lifetime counters, its
    stored executions' counters, success rate, average / p50 / p95 time (percentiles over its
    most recent PERCENTILE_SAMPLE finished executions), hourly and daily timelines, and its
    failed steps over the last 30 days, the most failing first, each with its latest error."""
    now = now or timezone.now()
    live = live_window(workflow_id=workflow.pk, now=now)
    counters = _counters(workflow.pk, now, live)
    return {
        "workflow_id": workflow.pk,
        "name": workflow.name,
        "is_active": workflow.is_active,
        "run_count": workflow.run_count,
        "success_count": workflow.success_count,
        "failure_count": workflow.failure_count,
        "last_run_at": workflow.last_run_at,
        "last_status": workflow.last_status,
        "executions": counters,
        "executions_by_status": {status: counters[status] for status in ExecutionStatus.values},
        "success_rate": counters["success_rate"],
        "avg_execution_time_ms": counters["avg_execution_time_ms"],
        "p50_execution_time_ms": counters["p50_execution_time_ms"],
        "p95_execution_time_ms": counters["p95_execution_time_ms"],
        "timeline": {
            "hourly": hourly(workflow_id=workflow.pk, hours=24, now=now, live=live),
            "daily": daily(workflow_id=workflow.pk, days=30, now=now, live=live),
        },
        "failures_by_step": _failures_by_step(workflow.pk, now, live),
    }
