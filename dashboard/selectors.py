"""The reads behind each dashboard page, built on the apps' own selectors. Each one costs a fixed
number of queries whatever the number of rows: lists join what they show (no query per row) and
leave unloaded what they do not (definitions, snapshots, secrets)."""

from collections.abc import Collection, Mapping
from typing import Any

from django.db.models import F, QuerySet
from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404

from alerts.models import AlertDelivery, AutomationAlert, Notification
from alerts.selectors import alert_list, delivery_list, notification_list, notification_unread_count
from integrations.models import IntegrationConnection
from integrations.selectors import connection_list
from orchestration.models import APIOrchestration, OrchestrationRun
from orchestration.selectors import orchestration_list, orchestration_run_detail_list
from versioning.models import Article, ContentVersion
from versioning.selectors import article_list, version_history
from workflows.api.filters import AuditFilter, ExecutionFilter
from workflows.models import (
    AuditEntry,
    AutomationExecution,
    AutomationExecutionStep,
    AutomationWorkflow,
    Job,
    WorkflowRevision,
)
from workflows.revisions import workflow_revision_get, workflow_revision_list
from workflows.selectors import execution_detail_list, execution_list, workflow_list

RECENT_EXECUTIONS = 10
RECENT_DELIVERIES = 20
RECENT_NOTIFICATIONS = 10
RECENT_RUNS = 10
RECENT_REVISIONS = 5
RECENT_JOBS = 5

# Secrets are never needed on a list, so they are never loaded (nor decrypted) for one.
_WORKFLOW_SECRETS = ("webhook_secret", "webhook_secret_previous")
_CONNECTION_SECRETS = ("credentials", "webhook_url")


def workflows_page() -> QuerySet[AutomationWorkflow]:
    return workflow_list().defer("actions", *_WORKFLOW_SECRETS)


def workflows_active(*, limit: int = 5) -> list[AutomationWorkflow]:
    """The active workflows that ran most recently (never-run ones last), for the widget."""
    return list(
        workflow_list()
        .filter(is_active=True)
        .only("id", "name", "last_status", "last_run_at")
        .order_by(F("last_run_at").desc(nulls_last=True), "-id")[:limit]
    )


def workflow_get(*, workflow_id: int) -> AutomationWorkflow:
    return get_object_or_404(workflow_list(), pk=workflow_id)


def executions_page(
    *, params: Mapping[str, Any]
) -> tuple[ExecutionFilter, QuerySet[AutomationExecution]]:
    """The filter that ``params`` (status, workflow) make, with its form and errors, and the
    executions it keeps, newest first (none when a filter value is invalid)."""
    filtered = ExecutionFilter(params, queryset=execution_list().order_by("-id"))
    rows = filtered.qs if filtered.is_valid() else filtered.queryset.none()
    return filtered, rows


def audit_page(*, params: Mapping[str, Any]) -> tuple[AuditFilter, QuerySet[AuditEntry]]:
    """The audit filter that ``params`` make, and the entries it keeps, newest first (none
    when a filter value is invalid)."""
    filtered = AuditFilter(params, queryset=AuditEntry.objects.order_by("-at", "-id"))
    rows = filtered.qs if filtered.is_valid() else filtered.queryset.none()
    return filtered, rows


def audit_actions() -> list[str]:
    """The actions the trail holds, for a filter's select."""
    return list(AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct())


def workflow_choices() -> list[tuple[int, str]]:
    """(id, name) of every workflow, by name, for a filter's select."""
    return list(workflow_list().order_by("name", "pk").values_list("pk", "name"))


def jobs_of_workflow(*, workflow: AutomationWorkflow) -> QuerySet[Job]:
    """The workflow's latest backfills, newest first."""
    return Job.objects.filter(workflow=workflow).order_by("-pk")[:RECENT_JOBS]


def executions_of_workflow(*, workflow: AutomationWorkflow) -> QuerySet[AutomationExecution]:
    return execution_list().filter(workflow=workflow).order_by("-id")[:RECENT_EXECUTIONS]


def execution_get(*, execution_id: int) -> AutomationExecution:
    """The execution with its workflow, the number of the revision it runs, and its steps in
    order (two queries)."""
    rows = (
        execution_detail_list()
        .select_related("revision")
        .defer("revision__definition", "revision__changed_fields")
    )
    return get_object_or_404(rows, pk=execution_id)


def revisions_of(*, workflow: AutomationWorkflow) -> QuerySet[WorkflowRevision]:
    """The workflow's revisions, newest first, with who made each (definitions not loaded)."""
    return workflow_revision_list(workflow=workflow)


def revisions_recent(*, workflow: AutomationWorkflow) -> list[WorkflowRevision]:
    return list(revisions_of(workflow=workflow)[:RECENT_REVISIONS])


def revision_get(*, workflow: AutomationWorkflow, number: int) -> WorkflowRevision:
    """One revision of the workflow, with its definition; a 404 when it has no such revision."""
    try:
        return workflow_revision_get(workflow=workflow, number=number)
    except WorkflowRevision.DoesNotExist:
        raise Http404(f"Workflow {workflow.pk} has no revision {number}.") from None


def alerts_page() -> QuerySet[AutomationAlert]:
    return (
        alert_list()
        .select_related("workflow")
        .defer(
            "workflow__actions", "workflow__trigger", *(f"workflow__{f}" for f in _WORKFLOW_SECRETS)
        )
    )


def alert_get(*, alert_id: int) -> AutomationAlert:
    return get_object_or_404(alert_list(), pk=alert_id)


def deliveries_recent() -> QuerySet[AlertDelivery]:
    return AlertDelivery.objects.select_related("alert").defer("payload", "attempt_log")[
        :RECENT_DELIVERIES
    ]


def deliveries_of_alert(*, alert: AutomationAlert) -> QuerySet[AlertDelivery]:
    return delivery_list(alert=alert).defer("payload")


def notifications_of(*, user: Any) -> tuple[list[Notification], int]:
    """The user's latest notifications, and how many of all theirs are unread."""
    latest = list(notification_list(user=user)[:RECENT_NOTIFICATIONS])
    return latest, notification_unread_count(user=user)


def notification_get(*, user: Any, notification_id: int) -> Notification:
    """One of the user's own notifications; another user's is a 404."""
    return get_object_or_404(notification_list(user=user), pk=notification_id)


def connections_page() -> QuerySet[IntegrationConnection]:
    return connection_list().defer(*_CONNECTION_SECRETS)


def connection_get(*, connection_id: int) -> IntegrationConnection:
    return get_object_or_404(connection_list(), pk=connection_id)


def articles_page() -> QuerySet[Article]:
    return article_list().defer("content")


def article_get(*, article_id: int) -> Article:
    return get_object_or_404(article_list(), pk=article_id)


def versions_of(*, article: Article) -> QuerySet[ContentVersion]:
    return version_history(article=article)


def version_get(*, article: Article, version_number: int) -> ContentVersion:
    return get_object_or_404(
        ContentVersion.objects.select_related("article"),
        article=article,
        version_number=version_number,
    )


def orchestrations_page() -> QuerySet[APIOrchestration]:
    return orchestration_list().defer("api_calls", "dependencies", "retry_strategy")


def orchestration_get(*, orchestration_id: int) -> APIOrchestration:
    return get_object_or_404(orchestration_list(), pk=orchestration_id)


def runs_of(*, orchestration: APIOrchestration) -> list[OrchestrationRun]:
    """The orchestration's latest runs with their per-call results."""
    return list(
        orchestration_run_detail_list()
        .filter(orchestration=orchestration)
        .order_by("-id")[:RECENT_RUNS]
    )


def connection_choices() -> list[tuple[int, str, str]]:
    """(id, name, platform) of every active connection, by name, for the step editor's pickers."""
    rows = connection_list().filter(is_active=True).order_by("name", "pk")
    return list(rows.values_list("pk", "name", "platform"))


def executions_sample(*, workflow_id: int | None) -> list[AutomationExecution]:
    """The workflow's latest executions, newest first, with their payloads and contexts (what
    the step editor lists as variables and renders previews with); none for a new workflow."""
    if workflow_id is None:
        return []
    rows = AutomationExecution.objects.filter(workflow_id=workflow_id).order_by("-id")
    return list(
        rows.only("id", "workflow_id", "attempt", "trigger_payload", "context")[:RECENT_EXECUTIONS]
    )


def step_statuses(*, execution_id: int) -> dict[str, str]:
    """Each step's status in the execution, by step id (one query)."""
    rows = AutomationExecutionStep.objects.filter(execution_id=execution_id)
    return dict(rows.values_list("step_id", "status"))


def executions_matching(*, query: str, limit: int) -> tuple[list[int], int]:
    """The ids of the newest ``limit`` executions the list's filter (a query string) keeps, and
    how many it keeps in all (two queries)."""
    _filtered, rows = executions_page(params=QueryDict(query))
    return list(rows.values_list("pk", flat=True)[:limit]), rows.count()


def executions_in_states(*, execution_ids: list[int], statuses: Collection[str]) -> int:
    """How many of the executions are in one of ``statuses``."""
    rows = AutomationExecution.objects.filter(pk__in=execution_ids, status__in=statuses)
    return rows.count()
