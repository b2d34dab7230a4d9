"""Reads on workflows and executions."""

from typing import Any

from django.db.models import Count, QuerySet

from workflows.models import AutomationExecution, AutomationWorkflow, ExecutionStatus


def success_rate(succeeded: int, failed: int) -> float | None:
    """Completed ÷ finished (completed + failed), or None when nothing finished yet."""
    finished = succeeded + failed
    return round(succeeded / finished, 4) if finished else None


def workflow_list() -> QuerySet[AutomationWorkflow]:
    return AutomationWorkflow.objects.all()


def execution_list() -> QuerySet[AutomationExecution]:
    return AutomationExecution.objects.select_related("workflow").defer(
        "context", "definition", "workflow__actions", "workflow__trigger"
    )


def execution_detail_list() -> QuerySet[AutomationExecution]:
    return AutomationExecution.objects.select_related("workflow").prefetch_related("steps")


def workflow_stats(*, workflow: AutomationWorkflow) -> dict[str, Any]:
    by_status = dict.fromkeys(ExecutionStatus.values, 0)
    rows = (
        AutomationExecution.objects.filter(workflow=workflow)
        .values("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_status.update({row["status"]: row["n"] for row in rows})
    return {
        "workflow_id": workflow.pk,
        "run_count": workflow.run_count,
        "success_count": workflow.success_count,
        "failure_count": workflow.failure_count,
        "success_rate": success_rate(workflow.success_count, workflow.failure_count),
        "avg_execution_time_ms": round(workflow.avg_execution_time_ms, 1),
        "last_run_at": workflow.last_run_at,
        "last_status": workflow.last_status,
        "executions_by_status": by_status,
    }
