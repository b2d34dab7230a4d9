"""Claiming: a worker takes an execution to run.

Owns the claim (one conditional ``UPDATE … RETURNING`` that bumps ``attempt``, the fencing
number every later write is conditional on) and the ``max_concurrency`` slots. Writes nothing
else: running the steps is runner.py's.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from workflows.models import AutomationExecution, AutomationWorkflow, ExecutionStatus
from workflows.services.dispatch import EXECUTIONS, executions_due
from workflows.services.overlap import overlap_limit


def execution_claim(*, execution_id: int, worker: str) -> AutomationExecution | None:
    """Take the execution for this worker, or return None when it is not ours to run.

    Claimable: queued and due, waiting with its wait over, or running under an expired lease
    (its worker is presumed dead). A workflow with ``max_concurrency`` (or overlap policy
    ``queue``, which without one means 1) runs at most that many at once, oldest first; an
    execution whose worker died keeps the slot it holds.
    """
    now = timezone.now()
    claimed = _claim(execution_id, worker, now, limited=False)
    if claimed is not None:
        return claimed
    workflow_id = (
        AutomationExecution.objects.filter(pk=execution_id, concurrency_limited=True)
        .values_list("workflow_id", flat=True)
        .first()
    )
    if workflow_id is None:
        return None  # finished, running elsewhere, or not due yet
    with transaction.atomic():
        row = (
            AutomationWorkflow.objects.select_for_update()
            .filter(pk=workflow_id)
            .values_list("max_concurrency", "overlap_policy")
            .first()
        )
        limit = overlap_limit(max_concurrency=row[0], overlap_policy=row[1]) if row else None
        executions = AutomationExecution.objects.filter(workflow_id=workflow_id)
        if limit is None or executions.filter(pk=execution_id, status="running").exists():
            # No limit any more, or its worker died (the lease expired): it takes back its slot.
            return _claim(execution_id, worker, now, limited=True)
        if executions.filter(status=ExecutionStatus.RUNNING).count() >= limit:
            return None  # parked: the next finish of this workflow sends the oldest waiting one
        oldest = (
            executions.filter(executions_due(now)).order_by("pk").values_list("pk", flat=True)
        ).first()
        if oldest is not None and oldest != execution_id:
            EXECUTIONS.wake([oldest], now)
            return None
        return _claim(execution_id, worker, now, limited=True)


_CLAIM_SQL = """
UPDATE {table} SET
    status = 'running', attempt = attempt + 1, deliveries = deliveries + 1, locked_by = %s,
    lease_expires_at = %s, started_at = COALESCE(started_at, %s), next_attempt_at = NULL,
    dispatched_at = NULL
WHERE id = %s AND concurrency_limited = %s AND (
    (status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= %s))
    OR (status = 'waiting' AND next_attempt_at <= %s)
    OR (status = 'running' AND lease_expires_at < %s)
)
RETURNING *
"""


def _claim(
    execution_id: int, worker: str, now: datetime, *, limited: bool
) -> AutomationExecution | None:
    """One conditional UPDATE … RETURNING: the claim and the row in a single round trip."""
    sql = _CLAIM_SQL.format(table=AutomationExecution._meta.db_table)
    lease = now + timedelta(seconds=settings.EXECUTION_LEASE_S)
    params = [worker, lease, now, execution_id, limited, now, now, now]
    rows = list(AutomationExecution.objects.raw(sql, params))
    return rows[0] if rows else None
