"""Completed and failed executions per hour or per day, every bucket present (empty ones as 0).

An execution falls in the bucket of the UTC hour it was created in, as the monitor's windows
count. Closed hours come from the rollups, the live hours from the executions themselves: the
cost depends on the window and the number of workflows, not on the history stored.
"""

from collections import defaultdict
from datetime import datetime
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from analytics.models import ExecutionRollup
from analytics.selectors.buckets import (
    DAY,
    HOUR,
    LiveWindow,
    closed_sums,
    day_floor,
    hour_floor,
    live_window,
)


def _series(starts: list[datetime], counted: dict[datetime, list[int]]) -> list[dict[str, Any]]:
    return [
        {"start": start, "completed": counted[start][0], "failed": counted[start][1]}
        for start in starts
    ]


def hourly(
    *, workflow_id: int | None, hours: int, now: datetime, live: LiveWindow
) -> list[dict[str, Any]]:
    last = hour_floor(now)
    starts = [last - HOUR * (hours - 1 - index) for index in range(hours)]
    counted: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    rows = ExecutionRollup.objects.filter(hour__gte=starts[0], hour__lt=live.since)
    if workflow_id is not None:
        rows = rows.filter(workflow_id=workflow_id)
    for row in rows.values("hour").annotate(c=Sum("completed"), f=Sum("failed")).order_by():
        counted[row["hour"]] = [row["c"], row["f"]]
    for bucket in live.buckets.values():
        if bucket.hour >= starts[0]:
            counted[bucket.hour][0] += bucket.completed
            counted[bucket.hour][1] += bucket.failed
    return _series(starts, counted)


def daily(
    *, workflow_id: int | None, days: int, now: datetime, live: LiveWindow
) -> list[dict[str, Any]]:
    last = day_floor(now)
    starts = [last - DAY * (days - 1 - index) for index in range(days)]
    counted: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    closed = closed_sums(by="day", workflow_id=workflow_id, since=starts[0], until=live.since)
    for day, sums in closed.items():
        counted[day] = [sums["completed"], sums["failed"]]
    for bucket in live.buckets.values():
        day = day_floor(bucket.hour)
        if day >= starts[0]:
            counted[day][0] += bucket.completed
            counted[day][1] += bucket.failed
    return _series(starts, counted)


def timeline_hourly(
    *, workflow_id: int | None = None, hours: int = 24, now: datetime | None = None
) -> list[dict[str, Any]]:
    """``hours`` buckets ``{"start", "completed", "failed"}``, oldest first, the last one being
    the current (partial) hour; of one workflow or all."""
    now = now or timezone.now()
    live = live_window(workflow_id=workflow_id, now=now)
    return hourly(workflow_id=workflow_id, hours=hours, now=now, live=live)


def timeline_daily(
    *, workflow_id: int | None = None, days: int = 30, now: datetime | None = None
) -> list[dict[str, Any]]:
    """``days`` buckets ``{"start", "completed", "failed"}`` (UTC days), oldest first, the last
    one being today so far; of one workflow or all."""
    now = now or timezone.now()
    live = live_window(workflow_id=workflow_id, now=now)
    return daily(workflow_id=workflow_id, days=days, now=now, live=live)
