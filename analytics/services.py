"""Writes of the analytics app: the rollups stats read, and liveness stamps.

The rollups hold finished executions per (workflow, UTC hour of creation). ``rollup_refresh``
(Beat, every ANALYTICS_ROLLUP_INTERVAL_S) recomputes from the executions every bucket in which
an execution finished since the previous refresh (minus a margin for transactions that committed
late), so a bucket is always the exact aggregate of its rows as of its last refresh: retries,
cancellations and pruning need no bookkeeping, and nothing runs on the engine's hot path. Until
that refresh, an execution of an older hour that just finished is in neither the live counts nor
its bucket, and a failed one being retried still counts as failed while it runs again.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.functions import TruncHour
from django.utils import timezone

from analytics.models import ExecutionDailyRollup, ExecutionRollup, Heartbeat, StepFailureRollup
from analytics.selectors.buckets import (
    DAY,
    HOUR,
    SUMMED,
    Bucket,
    Key,
    Scope,
    StepBucket,
    day_floor,
    execution_buckets,
    hour_floor,
    step_failure_buckets,
)
from workflows.models import FINISHED_STATUSES, AutomationExecution

_NEVER = datetime(1970, 1, 1, tzinfo=UTC)
_FIELDS = (*SUMMED, "last_failed_at", "last_error")
_TABLES = ((ExecutionRollup, "hour"), (ExecutionDailyRollup, "day"), (StepFailureRollup, "hour"))


def heartbeat_stamp(*, name: str = Heartbeat.BEAT) -> None:
    """Record that ``name`` is alive now."""
    Heartbeat.objects.update_or_create(name=name, defaults={"beat_at": timezone.now()})


def _fields(bucket: Bucket) -> dict[str, Any]:
    return {"workflow_id": bucket.workflow_id, **{name: getattr(bucket, name) for name in _FIELDS}}


def _write(
    buckets: dict[Key, Bucket], steps: dict[tuple[int, datetime, str, str], StepBucket]
) -> None:
    ExecutionRollup.objects.bulk_create(
        [ExecutionRollup(hour=bucket.hour, **_fields(bucket)) for bucket in buckets.values()],
        batch_size=2000,
    )
    StepFailureRollup.objects.bulk_create(
        [StepFailureRollup(**vars(bucket)) for bucket in steps.values()], batch_size=2000
    )


def _days_write(dirty_days: set[Key]) -> None:
    """Sum the hourly rollups of each dirty (workflow, day) into its daily row."""
    by_day: dict[datetime, set[int]] = defaultdict(set)
    for workflow_id, day in dirty_days:
        by_day[day].add(workflow_id)
    for day, workflow_ids in by_day.items():
        hours = ExecutionRollup.objects.filter(
            hour__gte=day, hour__lt=day + DAY, workflow_id__in=workflow_ids
        )
        ExecutionDailyRollup.objects.filter(day=day, workflow_id__in=workflow_ids).delete()
        _days_create(hours.order_by())


def _days_create(hours: Iterable[ExecutionRollup]) -> None:
    days: dict[Key, Bucket] = {}
    for hour in hours:
        key = (hour.workflow_id, day_floor(hour.hour))
        day = days.setdefault(key, Bucket(*key))
        for name in SUMMED:
            setattr(day, name, getattr(day, name) + getattr(hour, name))
        if hour.last_failed_at and (
            day.last_failed_at is None or hour.last_failed_at > day.last_failed_at
        ):
            day.last_failed_at, day.last_error = hour.last_failed_at, hour.last_error
    ExecutionDailyRollup.objects.bulk_create(
        [ExecutionDailyRollup(day=bucket.hour, **_fields(bucket)) for bucket in days.values()],
        batch_size=2000,
    )


def _recompute(dirty: set[Key]) -> int:
    """Replace the rollup rows of the ``dirty`` (workflow, hour) pairs with fresh aggregates,
    then the daily rows of their days."""
    by_hour: dict[datetime, set[int]] = defaultdict(set)
    for workflow_id, hour in dirty:
        by_hour[hour].add(workflow_id)
    for hour, workflow_ids in by_hour.items():
        scope = Scope(since=hour, until=hour + HOUR, workflow_ids=workflow_ids)
        ExecutionRollup.objects.filter(hour=hour, workflow_id__in=workflow_ids).delete()
        StepFailureRollup.objects.filter(hour=hour, workflow_id__in=workflow_ids).delete()
        _write(execution_buckets(scope=scope), step_failure_buckets(scope=scope))
    _days_write({(workflow_id, day_floor(hour)) for workflow_id, hour in dirty})
    return len(dirty)


def _rebuild() -> int:
    for model, _ in _TABLES:
        model.objects.all().delete()
    buckets = execution_buckets(scope=Scope())
    _write(buckets, step_failure_buckets(scope=Scope()))
    _days_create(ExecutionRollup.objects.order_by().iterator(chunk_size=5000))
    return len(buckets)


def _dirty_since(since: datetime) -> set[Key]:
    finished = (
        AutomationExecution.objects.filter(completed_at__gte=since)
        .annotate(hour=TruncHour("created_at", tzinfo=UTC))
        .values_list("workflow_id", "hour")
        .distinct()
    )
    return set(finished)


def _pruned_boundary() -> set[Key]:
    """Drop the buckets older than the oldest finished execution left (the prune removed their
    executions) and return the boundary hour's buckets, which the prune may have cut in two."""
    oldest = (
        AutomationExecution.objects.filter(status__in=FINISHED_STATUSES)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if oldest is None:
        for model, _ in _TABLES:
            model.objects.all().delete()
        return set()
    boundary = hour_floor(oldest)
    ExecutionRollup.objects.filter(hour__lt=boundary).delete()
    StepFailureRollup.objects.filter(hour__lt=boundary).delete()
    ExecutionDailyRollup.objects.filter(day__lt=day_floor(boundary)).delete()
    kept = ExecutionRollup.objects.filter(hour=boundary).values_list("workflow_id", flat=True)
    return {(workflow_id, boundary) for workflow_id in kept}


def rollup_refresh(*, now: datetime | None = None, rebuild: bool = False) -> int:
    """Bring the rollups up to date with the executions; returns how many buckets it rewrote.

    The first refresh (or ``rebuild=True``) recomputes everything; later ones only the buckets
    of executions finished since the previous refresh. Two refreshes never run at once: the
    watermark row is locked for the duration.
    """
    now = now or timezone.now()
    Heartbeat.objects.get_or_create(name=Heartbeat.ROLLUP, defaults={"beat_at": _NEVER})
    with transaction.atomic():
        mark = Heartbeat.objects.select_for_update().get(name=Heartbeat.ROLLUP)
        if rebuild or mark.beat_at == _NEVER:
            written = _rebuild()
        else:
            margin = timedelta(seconds=settings.ANALYTICS_ROLLUP_MARGIN_S)
            written = _recompute(_dirty_since(mark.beat_at - margin) | _pruned_boundary())
        mark.beat_at = now
        mark.save(update_fields=["beat_at"])
    return written


def rollup_rebuild() -> int:
    """Recompute every rollup bucket from the executions (after a bulk load or a restore)."""
    return rollup_refresh(rebuild=True)
