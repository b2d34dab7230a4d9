"""Finished executions aggregated per (workflow, UTC hour of creation): the unit of the rollups.

Stats read closed hours from the rollup tables and the live window (the current and the previous
hour) straight from the executions, aggregated here the same way; the rollup refresh writes what
this module computes.
"""

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from analytics.models import ExecutionDailyRollup, ExecutionRollup
from workflows.models import (
    FINISHED_STATUSES,
    AutomationExecution,
    AutomationExecutionStep,
    ExecutionStatus,
    StepStatus,
)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Completed and failed executions are timed and rated; cancelled ones are only counted.
RATED = (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)

Key = tuple[int, datetime]


def hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_floor(moment: datetime) -> datetime:
    return hour_floor(moment).replace(hour=0)


def live_from(now: datetime | None = None) -> datetime:
    """Hours from this one on are read from the executions, older ones from the rollups."""
    return hour_floor(now or timezone.now()) - HOUR


@dataclass(frozen=True)
class Scope:
    """Executions created in [since, until) of some workflows (None: no bound)."""

    since: datetime | None = None
    until: datetime | None = None
    workflow_ids: Collection[int] | None = None

    def executions(self, prefix: str = "") -> dict[str, Any]:
        lookups: dict[str, Any] = {}
        if self.since is not None:
            lookups[f"{prefix}created_at__gte"] = self.since
        if self.until is not None:
            lookups[f"{prefix}created_at__lt"] = self.until
        if self.workflow_ids is not None:
            lookups[f"{prefix}workflow_id__in"] = list(self.workflow_ids)
        return lookups


@dataclass
class Bucket:
    workflow_id: int
    hour: datetime
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    time_total_ms: int = 0
    timed: int = 0
    last_failed_at: datetime | None = None
    last_error: str = ""


@dataclass
class StepBucket:
    workflow_id: int
    hour: datetime
    step_id: str
    step_type: str
    failures: int = 0
    last_failed_at: datetime | None = None
    last_error: str = ""


@dataclass
class LiveWindow:
    """What the rollups do not hold yet: the live hours' buckets, aggregated on each read."""

    since: datetime
    buckets: dict[Key, Bucket] = field(default_factory=dict)


def execution_buckets(*, scope: Scope) -> dict[Key, Bucket]:
    """The finished executions in ``scope``, aggregated per (workflow, hour)."""
    executions = AutomationExecution.objects.filter(**scope.executions())
    rows = (
        executions.filter(status__in=FINISHED_STATUSES)
        .annotate(hour=TruncHour("created_at", tzinfo=UTC))
        .values("workflow_id", "hour", "status")
        .annotate(n=Count("id"), total=Sum("execution_time_ms"), timed=Count("execution_time_ms"))
        .order_by()
    )
    buckets: dict[Key, Bucket] = {}
    for row in rows:
        key = (row["workflow_id"], row["hour"])
        bucket = buckets.setdefault(key, Bucket(*key))
        setattr(bucket, row["status"], row["n"])
        if row["status"] in RATED:
            bucket.time_total_ms += row["total"] or 0
            bucket.timed += row["timed"]
    failures = (
        executions.filter(status=ExecutionStatus.FAILED, completed_at__isnull=False)
        .annotate(hour=TruncHour("created_at", tzinfo=UTC))
        .values_list("workflow_id", "hour", "completed_at", "error_message")
    )
    for workflow_id, hour, failed_at, error in failures.iterator(chunk_size=5000):
        found = buckets.get((workflow_id, hour))
        if (
            found
            and failed_at
            and (found.last_failed_at is None or failed_at > found.last_failed_at)
        ):
            found.last_failed_at, found.last_error = failed_at, error
    return buckets


def step_failure_buckets(*, scope: Scope) -> dict[tuple[int, datetime, str, str], StepBucket]:
    """The failed steps of the executions in ``scope``, per (workflow, hour, step id, type)."""
    steps = (
        AutomationExecutionStep.objects.filter(
            status=StepStatus.FAILED, **scope.executions(prefix="execution__")
        )
        .annotate(hour=TruncHour("execution__created_at", tzinfo=UTC))
        .values_list(
            "execution__workflow_id", "hour", "step_id", "step_type", "completed_at",
            "error_message",
        )
    )  # fmt: skip
    buckets: dict[tuple[int, datetime, str, str], StepBucket] = {}
    for workflow_id, hour, step_id, step_type, failed_at, error in steps.iterator(5000):
        key = (workflow_id, hour, step_id, step_type)
        bucket = buckets.setdefault(key, StepBucket(*key))
        bucket.failures += 1
        if failed_at and (bucket.last_failed_at is None or failed_at > bucket.last_failed_at):
            bucket.last_failed_at, bucket.last_error = failed_at, error
    return buckets


def live_window(*, workflow_id: int | None = None, now: datetime | None = None) -> LiveWindow:
    since = live_from(now)
    scope = Scope(since=since, workflow_ids=None if workflow_id is None else [workflow_id])
    return LiveWindow(since=since, buckets=execution_buckets(scope=scope))


SUMMED = ("completed", "failed", "cancelled", "time_total_ms", "timed")
Sums = dict[str, int]


def _grouped(rows: QuerySet[Any], key: Any, sums: dict[Any, Sums]) -> None:
    sum_all = {name: Sum(name) for name in SUMMED}
    if key is None:
        totals = [{"key": None, **rows.aggregate(**sum_all)}]
    else:
        totals = list(rows.annotate(key=key).values("key").annotate(**sum_all).order_by())
    for row in totals:
        into = sums.setdefault(row["key"], dict.fromkeys(SUMMED, 0))
        for name in SUMMED:
            into[name] += row[name] or 0


def closed_sums(
    *, by: str | None, workflow_id: int | None, since: datetime | None, until: datetime
) -> dict[Any, Sums]:
    """The rollups summed over the closed hours in [since, until), grouped ``by`` "day",
    "workflow" or nothing (one key, None). ``since`` is a UTC midnight or None (all kept).

    Whole days come from the daily rollups, the hours of ``until``'s own day from the hourly
    ones: two small queries, whatever the history.
    """
    split = day_floor(until)
    days = ExecutionDailyRollup.objects.filter(day__lt=split)
    hours = ExecutionRollup.objects.filter(hour__gte=split, hour__lt=until)
    if since is not None:
        days, hours = days.filter(day__gte=since), hours.filter(hour__gte=since)
    if workflow_id is not None:
        days, hours = days.filter(workflow_id=workflow_id), hours.filter(workflow_id=workflow_id)
    keys = {
        "day": (F("day"), TruncDay("hour", tzinfo=UTC)),
        "workflow": (F("workflow_id"), F("workflow_id")),
        None: (None, None),
    }[by]
    sums: dict[Any, Sums] = {}
    _grouped(days, keys[0], sums)
    _grouped(hours, keys[1], sums)
    return sums
