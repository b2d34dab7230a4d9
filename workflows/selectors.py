"""Reads on workflows and executions."""

from django.db.models import QuerySet

from workflows.models import AutomationExecution, AutomationWorkflow


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
