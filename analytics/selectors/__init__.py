"""Reads of the analytics app: what dashboards, the stats endpoints and the monitor action show.

Every function takes keyword-only arguments and returns plain, JSON-serialisable data
(datetimes allowed).
"""

from analytics.selectors.activity import KINDS as ACTIVITY_KINDS
from analytics.selectors.activity import LIMIT_MAX as ACTIVITY_LIMIT_MAX
from analytics.selectors.activity import CursorInvalid, activity_feed
from analytics.selectors.stats import stats_overview, stats_summary, workflow_stats_detail
from analytics.selectors.timeline import timeline_daily, timeline_hourly
from analytics.selectors.windows import (
    executions_queued_count,
    workflow_avg_time_ms,
    workflow_failure_rate,
)

__all__ = [
    "ACTIVITY_KINDS",
    "ACTIVITY_LIMIT_MAX",
    "CursorInvalid",
    "activity_feed",
    "executions_queued_count",
    "stats_overview",
    "stats_summary",
    "timeline_daily",
    "timeline_hourly",
    "workflow_avg_time_ms",
    "workflow_failure_rate",
    "workflow_stats_detail",
]
