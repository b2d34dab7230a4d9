"""The executions-per-hour chart: bar geometry for a server-rendered SVG, from the analytics
timeline (``timeline_hourly``). Only arithmetic here; the template draws it."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

WIDTH = 1000
HEIGHT = 220
LEFT = 36  # room for the y-axis labels
BOTTOM = 24  # room for the hour labels
TOP = 10
LABEL_EVERY_HOURS = 3


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    label: str  # read by screen readers and shown as a tooltip


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class HourlyChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    baseline: float
    succeeded: list[Bar]
    failed: list[Bar]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    total_succeeded: int
    total_failed: int
    rows: list[dict[str, Any]]


def _nice_max(value: int) -> int:
    """The smallest of 1, 2, 5 × 10^k at or above ``value`` (at least 1), for round gridlines."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude  # unreachable: 10 × magnitude is always ≥ value


def _hour(start: datetime) -> str:
    return start.strftime("%H:00")


def hourly_chart(buckets: Sequence[dict[str, Any]]) -> HourlyChart:
    """Two bars per hour, succeeded (``completed``) beside failed, scaled to the busiest hour.

    ``buckets`` is ``timeline_hourly``'s list of ``{"start", "completed", "failed"}``, oldest
    first."""
    top = _nice_max(max([max(b["completed"], b["failed"]) for b in buckets] + [0]))
    plot_height = HEIGHT - TOP - BOTTOM
    plot_width = WIDTH - LEFT - 4
    slot = plot_width / max(len(buckets), 1)
    bar_width = max(slot * 0.38, 1.0)
    baseline = TOP + plot_height
    succeeded: list[Bar] = []
    failed: list[Bar] = []
    x_ticks: list[Tick] = []
    for index, bucket in enumerate(buckets):
        x = LEFT + index * slot + slot * 0.1
        hour = _hour(bucket["start"])
        for series, key, offset, word in (
            (succeeded, "completed", 0.0, "succeeded"),
            (failed, "failed", bar_width, "failed"),
        ):
            count = int(bucket[key])
            height = plot_height * count / top
            series.append(
                Bar(
                    x=round(x + offset, 2),
                    y=round(baseline - height, 2),
                    width=round(bar_width, 2),
                    height=round(height, 2),
                    count=count,
                    label=f"{hour}: {count} {word}",
                )
            )
        if index % LABEL_EVERY_HOURS == 0:
            x_ticks.append(Tick(x=round(x + bar_width, 2), y=HEIGHT - 6, text=hour))
    gridlines = [0, top // 2, top] if top % 2 == 0 else [0, top]
    y_ticks = [
        Tick(x=LEFT - 6, y=round(baseline - plot_height * value / top, 2), text=str(value))
        for value in gridlines
    ]
    return HourlyChart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH - 4,
        baseline=baseline,
        succeeded=succeeded,
        failed=failed,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        total_succeeded=sum(bar.count for bar in succeeded),
        total_failed=sum(bar.count for bar in failed),
        rows=[
            {"hour": _hour(b["start"]), "completed": b["completed"], "failed": b["failed"]}
            for b in buckets
        ],
    )
