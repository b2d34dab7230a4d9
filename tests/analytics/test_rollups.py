"""The rollups follow the executions: whatever finished, was retried, cancelled or pruned since
the previous refresh is recomputed from the rows."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from analytics.models import ExecutionDailyRollup, ExecutionRollup, Heartbeat, StepFailureRollup
from analytics.selectors import stats_overview
from analytics.services import rollup_refresh
from analytics.tasks import refresh_rollups
from tests.analytics.conftest import NOW, at, execution
from tests.factories import WorkflowFactory
from workflows.models import AutomationExecution
from workflows.services.housekeeping import execution_prune
from workflows.services.workflows import workflow_delete

pytestmark = pytest.mark.django_db
LATER = NOW + timedelta(minutes=2)


def counts(now=LATER):
    executions = stats_overview(now=now)["executions"]
    return {name: executions[name] for name in ("completed", "failed", "cancelled", "running")}


def finish(row, status, took_ms=50):
    AutomationExecution.objects.filter(pk=row.pk).update(
        status=status, completed_at=NOW + timedelta(minutes=1), execution_time_ms=took_ms
    )


def test_the_first_refresh_rolls_up_every_execution_kept(db):
    workflow = WorkflowFactory()
    execution(workflow, "completed", at(1, 8), 100)
    execution(workflow, "failed", at(9, 8), 100, "boom", ("s", "transform", "boom"))
    assert rollup_refresh(now=NOW) == 2
    assert ExecutionRollup.objects.count() == 2
    assert ExecutionDailyRollup.objects.count() == 2
    assert StepFailureRollup.objects.get().failures == 1
    assert Heartbeat.objects.get(name=Heartbeat.ROLLUP).beat_at == NOW


def test_an_execution_of_a_closed_hour_that_finishes_is_counted_after_the_next_refresh(db):
    workflow = WorkflowFactory()
    running = execution(workflow, "running", at(10, 10, 30))
    rollup_refresh(now=NOW)
    assert counts()["running"] == 1
    finish(running, "completed")
    rollup_refresh(now=LATER)
    assert counts() == {"completed": 1, "failed": 0, "cancelled": 0, "running": 0}


def test_a_retried_execution_counts_once_with_its_last_outcome(db):
    workflow = WorkflowFactory()
    failed = execution(workflow, "failed", at(10, 10, 5), 300, "boom")
    rollup_refresh(now=NOW)
    assert counts()["failed"] == 1
    finish(failed, "completed")
    rollup_refresh(now=LATER)
    assert counts() == {"completed": 1, "failed": 0, "cancelled": 0, "running": 0}


def test_a_queued_execution_cancelled_later_is_counted_as_cancelled(db):
    workflow = WorkflowFactory()
    queued = execution(workflow, "queued", at(10, 9))
    rollup_refresh(now=NOW)
    AutomationExecution.objects.filter(pk=queued.pk).update(
        status="cancelled", completed_at=NOW + timedelta(minutes=1)
    )
    rollup_refresh(now=LATER)
    assert counts()["cancelled"] == 1


def test_pruned_executions_leave_the_rollups_at_the_next_refresh(db, settings):
    settings.EXECUTION_RETENTION_DAYS = 30
    workflow = WorkflowFactory()
    execution(workflow, "completed", NOW - timedelta(days=45), 100)
    execution(workflow, "completed", NOW - timedelta(days=45, hours=-2), 100)
    execution(workflow, "completed", at(10, 9), 100)
    rollup_refresh(now=NOW)
    assert counts()["completed"] == 3
    assert execution_prune(now=NOW) == 2
    rollup_refresh(now=LATER)
    assert counts()["completed"] == 1
    assert ExecutionRollup.objects.count() == 1
    assert ExecutionDailyRollup.objects.count() == 1


def test_deleting_a_workflow_deletes_its_rollups(db):
    workflow = WorkflowFactory()
    execution(workflow, "failed", at(9, 8), 100, "boom", ("s", "transform", "boom"))
    rollup_refresh(now=NOW)
    workflow_delete(workflow=workflow)
    assert not ExecutionRollup.objects.exists()
    assert not ExecutionDailyRollup.objects.exists()
    assert not StepFailureRollup.objects.exists()


def test_an_unchanged_history_rewrites_nothing_but_the_oldest_hour(db):
    workflow = WorkflowFactory()
    execution(workflow, "completed", at(1, 8), 100)
    execution(workflow, "completed", at(9, 8), 100)
    rollup_refresh(now=NOW)
    # Nothing finished since: only the oldest hour (where a prune may cut) is recomputed.
    assert rollup_refresh(now=NOW + timedelta(hours=1)) == 1


def test_the_beat_task_refreshes_the_rollups(db):
    workflow = WorkflowFactory()
    execution(workflow, "completed", at(1, 8), 100)
    refresh_rollups.apply()
    assert ExecutionRollup.objects.get().completed == 1


def test_the_command_rebuilds_the_rollups(db):
    workflow = WorkflowFactory()
    execution(workflow, "completed", at(1, 8), 100)
    out = StringIO()
    call_command("refresh_rollups", "--rebuild", stdout=out)
    assert out.getvalue().strip() == "Rewrote 1 hourly bucket."
    assert ExecutionRollup.objects.get().completed == 1
