"""The end of an execution: its final status and times, the workflow's counters, the steps a
cancel cut short, the next execution of a full ``max_concurrency`` workflow, a wake for the job
or the parent execution that started it, and the ``execution.finished`` event — all in one
transaction, written through record.py.
"""

import logging

from django.db import transaction
from django.utils import timezone

from workflows import events
from workflows.engine.errors import CancelRequested
from workflows.engine.record import Progress, ms_between
from workflows.models import AutomationExecution, ExecutionStatus
from workflows.services.counters import workflow_counters_add
from workflows.services.dispatch import EXECUTIONS, executions_due
from workflows.services.executions import execution_parent_wake, execution_steps_cancel
from workflows.services.jobs import job_wake

# One logger for the whole engine, as operators filter on it.
logger = logging.getLogger("workflows.engine")


def finish(progress: Progress, status: str, error: str) -> None:
    if status == ExecutionStatus.COMPLETED and progress.pending:
        # Steps without side effects ran with no write in between: a cancel that came meanwhile
        # still wins over "completed". The finishing write is fenced on it, and refused (with
        # nothing written) when one came.
        try:
            _finish(progress, status, error, fenced=True)
            return
        except CancelRequested:
            status, error = ExecutionStatus.CANCELLED, "Cancelled."
    _finish(progress, status, error, fenced=False)


def _finish(progress: Progress, status: str, error: str, *, fenced: bool) -> None:
    execution = progress.execution
    now = timezone.now()
    active_ms = progress.active_ms()
    wall_ms = ms_between(execution.created_at, now)
    update = progress.fenced_update if fenced else progress.owned_update
    with transaction.atomic():
        update(
            status=status,
            completed_at=now,
            execution_time_ms=active_ms,
            wall_time_ms=wall_ms,
            error_message=error,
            lease_expires_at=None,
            locked_by="",
            **progress.fields(),
        )
        progress.flush()
        if status == ExecutionStatus.CANCELLED:
            execution_steps_cancel(execution_id=execution.pk, now=now)
        if execution.concurrency_limited:
            _wake_next(execution.workflow_id)
        if execution.job_id is not None:
            job_wake(job_id=execution.job_id)
        if execution.parent_execution_id is not None:
            execution_parent_wake(parent_id=execution.parent_execution_id)
        events.event_record(
            events.EXECUTION_FINISHED,
            execution_id=execution.pk,
            workflow_id=execution.workflow_id,
            status=status,
            error=error,
            execution_time_ms=active_ms,
            wall_time_ms=wall_ms,
        )
        if status != ExecutionStatus.CANCELLED:
            # Last: the workflow's row stays locked until the commit, and runs of the same
            # workflow finishing at once wait for each other here.
            workflow_counters_add(
                workflow_id=execution.workflow_id, status=status, active_ms=active_ms, now=now
            )
    logger.info("execution %s %s%s", execution.pk, status, f": {error}" if error else "")


def _wake_next(workflow_id: int) -> None:
    """A slot of a concurrency-limited workflow came free: wake its oldest waiting execution."""
    now = timezone.now()
    waiting = (
        AutomationExecution.objects.filter(executions_due(now), workflow_id=workflow_id)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    if waiting is not None:
        EXECUTIONS.wake([waiting], now)
