"""Metrics over a recent window of minutes: what the ``monitor`` action checks against."""

from datetime import timedelta

from django.db.models import Avg, Count, Q, QuerySet
from django.utils import timezone

from workflows.models import AutomationExecution, ExecutionStatus

_FINISHED = (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)


def _finished_in_window(
    *, workflow_id: int, window_minutes: float
) -> QuerySet[AutomationExecution]:
    """The workflow's executions created in the last ``window_minutes`` that completed or failed
    (cancelled ones say nothing about health)."""
    since = timezone.now() - timedelta(minutes=window_minutes)
    return AutomationExecution.objects.filter(
        workflow_id=workflow_id, created_at__gte=since, status__in=_FINISHED
    )


def workflow_failure_rate(*, workflow_id: int, window_minutes: float) -> float | None:
    """Failed ÷ finished over the window, from 0 to 1; None when nothing finished in it."""
    counts = _finished_in_window(workflow_id=workflow_id, window_minutes=window_minutes).aggregate(
        finished=Count("id"), failed=Count("id", filter=Q(status=ExecutionStatus.FAILED))
    )
    if not counts["finished"]:
        return None
    return round(counts["failed"] / counts["finished"], 4)


def workflow_avg_time_ms(*, workflow_id: int, window_minutes: float) -> float | None:
    """Average execution time of the window's finished executions; None when there are none."""
    average = _finished_in_window(workflow_id=workflow_id, window_minutes=window_minutes).aggregate(
        average=Avg("execution_time_ms")
    )["average"]
    return round(average, 1) if average is not None else None


def executions_queued_count() -> int:
    """Executions waiting for a worker now (queued and due, not those waiting out a retry delay)."""
    now = timezone.now()
    return AutomationExecution.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        status=ExecutionStatus.QUEUED,
    ).count()


def executions_oldest_wait_s() -> float | None:
    """How long the longest-waiting due execution has waited for a worker, in seconds; None when
    none waits. Executions parked by their workflow's ``max_concurrency`` wait by design and are
    left out."""
    now = timezone.now()
    oldest = (
        AutomationExecution.objects.filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
            status=ExecutionStatus.QUEUED,
            concurrency_limited=False,
        )
        .order_by("created_at")
        .values_list("created_at", "next_attempt_at")
        .first()
    )
    if oldest is None:
        return None
    since = max(moment for moment in oldest if moment is not None)
    return round(max(0.0, (now - since).total_seconds()), 1)
