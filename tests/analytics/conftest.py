"""Analytics tests: fast health probes (no cache, a short ping) unless a test says otherwise,
and a small fixed data set whose numbers are worked out by hand in test_stats.py."""

from datetime import UTC, datetime, timedelta

import pytest

from analytics.selectors.health import health_cache_clear
from tests.factories import ExecutionFactory, ExecutionStepFactory, WorkflowFactory

# A fixed "now" for the data set: 14:30 UTC, so the live window starts at 13:00.
NOW = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def quick_health(settings):
    settings.ANALYTICS_HEALTH_CACHE_S = 0
    settings.ANALYTICS_WORKER_PING_TIMEOUT_S = 0.1
    health_cache_clear()
    yield
    health_cache_clear()


def execution(workflow, status, created, took_ms=None, error="", failed_step=None):
    """An execution row created at ``created`` (finished ``took_ms`` later), and optionally a
    failed step ``(step_id, step_type, error)``."""
    finished = status in ("completed", "failed", "cancelled")
    row = ExecutionFactory(
        workflow=workflow,
        status=status,
        execution_time_ms=took_ms if status != "cancelled" else None,
        started_at=created if status != "queued" else None,
        completed_at=created + timedelta(milliseconds=took_ms or 0) if finished else None,
        error_message=error,
    )
    # created_at is set on insert (auto_now_add): move it afterwards.
    type(row).objects.filter(pk=row.pk).update(created_at=created)
    row.created_at = created
    if failed_step is not None:
        step_id, step_type, step_error = failed_step
        ExecutionStepFactory(
            execution=row,
            step_index=0,
            step_id=step_id,
            step_type=step_type,
            status="failed",
            error_message=step_error,
            completed_at=row.completed_at or created,
        )
    return row


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def dataset(db):
    """Workflow A (Publisher) and B (Sharer) active, C (Idle) inactive; see test_stats.py."""
    a = WorkflowFactory(name="Publisher")
    b = WorkflowFactory(name="Sharer")
    c = WorkflowFactory(name="Idle", is_active=False)
    post_503 = ("post", "notify", "Slack answered 503")
    execution(a, "completed", at(10, 14, 10), 100)
    execution(a, "failed", at(10, 13, 20), 300, "Step 'post' failed: 503", post_503)
    execution(a, "completed", at(10, 10, 5), 200,
              failed_step=("fetch", "api_call", "continued after a 404"))  # fmt: skip
    execution(a, "failed", at(9, 9), 400, "Step 'post' failed: timeout",
              ("post", "notify", "Slack timed out"))  # fmt: skip
    execution(a, "completed", at(7, 12), 500)
    execution(a, "completed", NOW - timedelta(days=40), 600)
    execution(a, "cancelled", at(10, 11))
    execution(a, "queued", at(10, 14, 20))
    execution(b, "failed", at(10, 12, 30), 1000, "Step 'fetch' failed: 500")
    execution(b, "running", at(10, 14, 25))
    execution(b, "failed", at(9, 23, 30), 800, "Step 'fetch' failed: 404")
    execution(b, "failed", datetime(2026, 2, 20, 10, tzinfo=UTC), 900, "Step 'fetch' failed: 502")
    return {"a": a, "b": b, "c": c}
