"""How executions reach workers: the kernel's Dispatcher (workflows/dispatch.py) for executions,
and which executions are due."""

from datetime import datetime

from django.db.models import Q

from workflows.dispatch import Dispatcher
from workflows.models import AutomationExecution, ExecutionStatus

RUN_EXECUTION_TASK = "workflows.run_execution"


def executions_due(now: datetime) -> Q:
    """Executions a worker may start now: queued and due, or waiting with their wait over."""
    return Q(status=ExecutionStatus.QUEUED) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    ) | Q(status=ExecutionStatus.WAITING, next_attempt_at__lte=now)


def _lost(now: datetime) -> Q:
    """Due executions of unlimited workflows, and running ones whose worker is presumed dead.
    Due executions of workflows with ``max_concurrency`` wait for a free slot: the sweep sends
    those itself (``execution_sweep``), never merely because they are due."""
    expired = Q(status=ExecutionStatus.RUNNING, lease_expires_at__lt=now)
    return (executions_due(now) & Q(concurrency_limited=False)) | expired


EXECUTIONS = Dispatcher(
    task=RUN_EXECUTION_TASK, model=AutomationExecution, lost=_lost, lock_key=0x5717EE9
)


def execution_dispatch(
    execution_id: int, *, marked: datetime, countdown: float | None = None, control: bool = False
) -> None:
    """Send the execution to a worker once the current transaction commits; ``marked`` is the
    ``dispatched_at`` just written (see workflows/dispatch.py). On the control lane when it is
    time-critical (a schedule's fire, recovered work)."""
    EXECUTIONS.send(execution_id, marked=marked, countdown=countdown, control=control)
