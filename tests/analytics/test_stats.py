"""Stats against numbers worked out by hand on the fixed data set of conftest.py.

At NOW (10 March, 14:30 UTC):
- Publisher (A): completed 14:10 (100 ms), 10:05 (200), 7 March (500), 40 days ago (600);
  failed 13:20 (300, step post), 9 March 09:00 (400, step post); cancelled 11:00; queued 14:20.
- Sharer (B): failed 12:30 (1000), 9 March 23:30 (800), 20 February (900); running 14:25.
- Idle (C): inactive, no executions.
Hours from 13:00 on are read live, older ones from the rollups.
"""

from datetime import timedelta

import pytest

from analytics.selectors import (
    stats_overview,
    stats_summary,
    timeline_daily,
    timeline_hourly,
    workflow_stats_detail,
)
from analytics.services import rollup_rebuild
from tests.analytics.conftest import NOW, at, execution
from tests.factories import WorkflowFactory

pytestmark = pytest.mark.django_db


def nonzero(buckets):
    return {
        bucket["start"]: (bucket["completed"], bucket["failed"])
        for bucket in buckets
        if bucket["completed"] or bucket["failed"]
    }


@pytest.fixture
def rolled_up(dataset):
    rollup_rebuild()
    return dataset


def test_the_overview_counts_workflows_and_executions_by_status(rolled_up):
    stats = stats_overview(now=NOW)
    assert stats["workflows"] == {"total": 3, "active": 2}
    executions = stats["executions"]
    assert {name: executions[name] for name in
            ("total", "queued", "running", "completed", "failed", "cancelled")} == {
        "total": 12, "queued": 1, "running": 1, "completed": 4, "failed": 5, "cancelled": 1,
    }  # fmt: skip


def test_the_summary_is_the_overviews_counters_and_health_without_the_rest(rolled_up):
    summary, overview = stats_summary(now=NOW), stats_overview(now=NOW)
    assert set(summary) == {"workflows", "executions", "health"}
    assert summary["workflows"] == overview["workflows"]
    assert summary["executions"] == overview["executions"]


def test_last_24h_counts_executions_created_since_this_time_yesterday(rolled_up):
    assert stats_overview(now=NOW)["executions"]["last_24h"] == 8


def test_the_success_rate_is_completed_over_completed_and_failed_without_cancelled(rolled_up):
    assert stats_overview(now=NOW)["executions"]["success_rate"] == round(4 / 9, 4)


def test_average_and_percentiles_cover_completed_and_failed_executions(rolled_up):
    executions = stats_overview(now=NOW)["executions"]
    # 100 + 200 + 300 + 400 + 500 + 600 + 800 + 900 + 1000 = 4800 over 9 runs.
    assert executions["avg_execution_time_ms"] == 533.3
    # Nearest rank of 9 sorted times: the 5th for p50, the 9th for p95.
    assert executions["p50_execution_time_ms"] == 500
    assert executions["p95_execution_time_ms"] == 1000


def test_the_hourly_timeline_has_24_buckets_empty_ones_included(rolled_up):
    hourly = stats_overview(now=NOW)["timeline"]["hourly"]
    assert len(hourly) == 24
    assert hourly[0]["start"] == at(9, 15)
    assert hourly[-1]["start"] == at(10, 14)
    assert nonzero(hourly) == {
        at(9, 23): (0, 1),
        at(10, 10): (1, 0),
        at(10, 12): (0, 1),
        at(10, 13): (0, 1),
        at(10, 14): (1, 0),
    }
    assert hourly[5] == {"start": at(9, 20), "completed": 0, "failed": 0}


def test_the_daily_timeline_has_30_days_empty_ones_included(rolled_up):
    daily = stats_overview(now=NOW)["timeline"]["daily"]
    assert len(daily) == 30
    assert daily[0]["start"] == at(10, 0) - timedelta(days=29)
    assert nonzero(daily) == {
        at(10, 0) - timedelta(days=18): (0, 1),
        at(7, 0): (1, 0),
        at(9, 0): (0, 2),
        at(10, 0): (2, 2),
    }


def test_top_failing_workflows_rank_by_failures_over_30_days_with_the_latest_error(rolled_up):
    top = stats_overview(now=NOW)["top_failing_workflows"]
    sharer, publisher = rolled_up["b"], rolled_up["a"]
    assert top == [
        {
            "workflow_id": sharer.pk,
            "name": "Sharer",
            "failure_count": 3,
            "failure_rate": 1.0,
            "last_error": "Step 'fetch' failed: 500",
        },
        {
            "workflow_id": publisher.pk,
            "name": "Publisher",
            "failure_count": 2,
            "failure_rate": 0.4,
            "last_error": "Step 'post' failed: 503",
        },
    ]


def test_recent_activity_and_health_are_part_of_the_overview(rolled_up):
    stats = stats_overview(now=NOW)
    assert len(stats["recent_activity"]) == 10
    assert stats["recent_activity"][0]["at"] >= stats["recent_activity"][-1]["at"]
    assert set(stats["health"]["components"]) >= {"database", "broker", "workers", "scheduler"}


def test_no_executions_means_null_rates_and_times_and_empty_buckets(db):
    WorkflowFactory()
    stats = stats_overview(now=NOW)
    executions = stats["executions"]
    assert executions["total"] == 0
    assert executions["success_rate"] is None
    assert executions["avg_execution_time_ms"] is None
    assert executions["p95_execution_time_ms"] is None
    assert len(stats["timeline"]["hourly"]) == 24
    assert len(stats["timeline"]["daily"]) == 30
    assert not nonzero(stats["timeline"]["hourly"] + stats["timeline"]["daily"])
    assert stats["top_failing_workflows"] == []


def test_only_cancelled_and_completed_runs_make_a_rate_of_one(db):
    workflow = WorkflowFactory()
    execution(workflow, "completed", at(10, 14), 100)
    execution(workflow, "cancelled", at(10, 14, 5))
    assert stats_overview(now=NOW)["executions"]["success_rate"] == 1.0


def test_hours_read_from_the_rollups_match_the_same_hours_read_live(rolled_up):
    live = stats_overview(now=at(10, 14, 59))
    # Three hours later every one of these executions is in a closed, rolled-up hour.
    later = stats_overview(now=at(10, 17, 59))
    for name in ("total", "completed", "failed", "cancelled", "avg_execution_time_ms"):
        assert later["executions"][name] == live["executions"][name]
    assert later["timeline"]["daily"] == live["timeline"]["daily"]
    assert nonzero(later["timeline"]["hourly"]) == nonzero(live["timeline"]["hourly"])
    assert later["top_failing_workflows"] == live["top_failing_workflows"]


def test_the_workflow_detail_has_its_own_counters_rate_and_percentiles(rolled_up):
    detail = workflow_stats_detail(workflow=rolled_up["a"], now=NOW)
    assert detail["executions_by_status"] == {
        "queued": 1, "running": 0, "waiting": 0, "completed": 4, "failed": 2, "cancelled": 1,
    }  # fmt: skip
    assert detail["executions"]["total"] == 8
    assert detail["executions"]["last_24h"] == 5
    assert detail["success_rate"] == round(4 / 6, 4)
    assert detail["avg_execution_time_ms"] == 350.0
    # Nearest rank of [100, 200, 300, 400, 500, 600].
    assert detail["p50_execution_time_ms"] == 300
    assert detail["p95_execution_time_ms"] == 600


def test_the_workflow_detail_lists_failures_by_step_most_failing_first(rolled_up):
    detail = workflow_stats_detail(workflow=rolled_up["a"], now=NOW)
    assert detail["failures_by_step"] == [
        {"step_id": "post", "step_type": "notify", "failures": 2,
         "last_error": "Slack answered 503"},
        {"step_id": "fetch", "step_type": "api_call", "failures": 1,
         "last_error": "continued after a 404"},
    ]  # fmt: skip


def test_the_workflow_detail_timelines_count_only_that_workflow(rolled_up):
    detail = workflow_stats_detail(workflow=rolled_up["a"], now=NOW)
    assert nonzero(detail["timeline"]["hourly"]) == {
        at(10, 10): (1, 0),
        at(10, 13): (0, 1),
        at(10, 14): (1, 0),
    }
    assert len(detail["timeline"]["daily"]) == 30


def test_timelines_can_be_asked_for_alone_and_for_other_lengths(rolled_up):
    hourly = timeline_hourly(workflow_id=rolled_up["b"].pk, hours=3, now=NOW)
    assert [(b["start"], b["completed"], b["failed"]) for b in hourly] == [
        (at(10, 12), 0, 1),
        (at(10, 13), 0, 0),
        (at(10, 14), 0, 0),
    ]
    daily = timeline_daily(days=2, now=NOW)
    assert [(b["completed"], b["failed"]) for b in daily] == [(0, 2), (2, 2)]


def test_an_idle_workflow_has_empty_stats(rolled_up):
    detail = workflow_stats_detail(workflow=rolled_up["c"], now=NOW)
    assert detail["executions"]["total"] == 0
    assert detail["success_rate"] is None
    assert detail["p50_execution_time_ms"] is None
    assert detail["failures_by_step"] == []


def test_waiting_executions_are_counted_live_and_left_out_of_the_rate(db):
    workflow = WorkflowFactory()
    execution(workflow, "waiting", at(1, 9))
    execution(workflow, "completed", at(1, 9), 100)
    rollup_rebuild()
    executions = stats_overview(now=NOW)["executions"]
    assert (executions["waiting"], executions["total"]) == (1, 2)
    assert executions["success_rate"] == 1.0


def test_the_wait_for_a_worker_is_reported_apart_from_the_active_time(db):
    workflow = WorkflowFactory()
    for waited_s in (1, 2, 30):
        row = execution(workflow, "completed", NOW - timedelta(hours=1), took_ms=40)
        type(row).objects.filter(pk=row.pk).update(
            created_at=row.started_at - timedelta(seconds=waited_s)
        )
    executions = stats_overview(now=NOW)["executions"]
    assert executions["p95_execution_time_ms"] == 40
    assert executions["p50_queue_wait_ms"] == 2000
    assert executions["p95_queue_wait_ms"] == 30000
