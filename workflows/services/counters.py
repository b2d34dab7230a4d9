"""A workflow's counters — runs, successes, failures, average active time — moved in one atomic
UPDATE, so they equal what the execution rows say: each completed or failed execution counts
once, at its latest outcome (a failed execution that is retried leaves the failures first), and
cancelled ones not at all."""

from datetime import datetime

from django.db.models import Case, F, Value, When

from workflows.models import AutomationWorkflow, ExecutionStatus


def workflow_counters_add(*, workflow_id: int, status: str, active_ms: int, now: datetime) -> None:
    """Count a finished (completed or failed) execution in its workflow's counters."""
    finished = F("success_count") + F("failure_count")
    succeeded = status == ExecutionStatus.COMPLETED
    AutomationWorkflow.objects.filter(pk=workflow_id).update(
        run_count=F("run_count") + 1,
        success_count=F("success_count") + int(succeeded),
        failure_count=F("failure_count") + int(not succeeded),
        avg_execution_time_ms=(F("avg_execution_time_ms") * finished + active_ms) / (finished + 1),
        last_run_at=now,
        last_status=status,
    )


def workflow_counters_remove_failure(*, workflow_id: int, active_ms: int) -> None:
    """Take a failed execution out of the counters (it is being retried: it will count again
    when it finishes)."""
    finished = F("success_count") + F("failure_count")
    AutomationWorkflow.objects.filter(pk=workflow_id, failure_count__gt=0).update(
        run_count=F("run_count") - 1,
        failure_count=F("failure_count") - 1,
        avg_execution_time_ms=Case(
            When(success_count=0, failure_count=1, then=Value(0.0)),
            default=(F("avg_execution_time_ms") * finished - active_ms) / (finished - 1),
        ),
    )
