"""The whole REST API surface, in one place. Paths work with or without a trailing slash."""

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from alerts.api import AlertViewSet, NotificationViewSet
from analytics.api import ActivityView, HealthView, StatsView, WorkflowStatsView
from integrations.api import ConnectionViewSet
from orchestration.api import OrchestrationRunViewSet, OrchestrationViewSet
from versioning.api import ArticleViewSet, VersionViewSet
from workflows.api.actions import ActionCatalogueView
from workflows.api.as_code import WorkflowExportView, WorkflowImportView
from workflows.api.audit import AuditViewSet
from workflows.api.backfill import WorkflowBackfillView
from workflows.api.drafts import (
    WorkflowDraftDryRunView,
    WorkflowDraftPublishView,
    WorkflowDraftView,
)
from workflows.api.jobs import JobViewSet
from workflows.api.revisions import WorkflowRevisionViewSet
from workflows.api.schedule import WorkflowScheduleView
from workflows.api.suites import WorkflowTestRunView, WorkflowTestViewSet
from workflows.api.triggers import EventView, SlackInteractionView, WebhookView
from workflows.api.views import ExecutionViewSet, WorkflowViewSet


class OptionalSlashRouter(DefaultRouter):
    include_root_view = False
    include_format_suffixes = False

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("workflows", WorkflowViewSet, basename="workflow")
router.register("executions", ExecutionViewSet, basename="execution")
router.register("alerts", AlertViewSet, basename="alert")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("connections", ConnectionViewSet, basename="connection")
router.register("articles", ArticleViewSet, basename="article")
router.register("orchestrations", OrchestrationViewSet, basename="orchestration")
router.register("orchestration-runs", OrchestrationRunViewSet, basename="orchestration-run")
router.register("audit", AuditViewSet, basename="audit")
router.register("jobs", JobViewSet, basename="job")

urlpatterns = [
    re_path(r"^health/?$", HealthView.as_view(), name="health"),
    re_path(r"^stats/?$", StatsView.as_view(), name="stats"),
    re_path(r"^activity/?$", ActivityView.as_view(), name="activity"),
    re_path(r"^events/?$", EventView.as_view(), name="events"),
    re_path(r"^actions/?$", ActionCatalogueView.as_view(), name="action-catalogue"),
    re_path(r"^hooks/(?P<token>[A-Za-z0-9_-]{1,100})/?$", WebhookView.as_view(), name="webhook"),
    re_path(
        r"^integrations/slack/(?P<connection_id>[0-9]{1,18})/interactions/?$",
        SlackInteractionView.as_view(),
        name="slack-interactions",
    ),
    # versions/{article_id}/… is keyed by the article, not a version id: routes spelled out.
    re_path(r"^versions/?$", VersionViewSet.as_view({"post": "create"}), name="version-create"),
    re_path(
        r"^versions/(?P<article_id>[^/]+)/revert/?$",
        VersionViewSet.as_view({"post": "revert"}),
        name="version-revert",
    ),
    re_path(
        r"^versions/(?P<article_id>[^/]+)/(?P<version_number>[^/]+)/?$",
        VersionViewSet.as_view({"get": "retrieve"}),
        name="version-detail",
    ),
    re_path(
        r"^versions/(?P<article_id>[^/]+)/?$",
        VersionViewSet.as_view({"get": "history"}),
        name="version-history",
    ),
    # A workflow's stats, schedule, history and as code; before the router's workflows/{pk}.
    re_path(r"^workflows/import/?$", WorkflowImportView.as_view(), name="workflow-import"),
    re_path(
        r"^workflows/(?P<workflow_id>[0-9]{1,18})/export/?$",
        WorkflowExportView.as_view(),
        name="workflow-export",
    ),
    re_path(
        r"^workflows/(?P<workflow_id>[0-9]{1,18})/stats/?$",
        WorkflowStatsView.as_view(),
        name="workflow-stats",
    ),
    re_path(
        r"^workflows/(?P<workflow_id>[0-9]{1,18})/backfill/?$",
        WorkflowBackfillView.as_view(),
        name="workflow-backfill",
    ),
    re_path(
        r"^workflows/(?P<workflow_id>[0-9]{1,18})/draft/?$",
        WorkflowDraftView.as_view(),
        name="workflow-draft",
    ),
    re_path(
        r"^workflows/(?P<workflow_id>[0-9]{1,18})/draft/publish/?$",
        WorkflowDraftPublishView.as_view(),
        name="workflow-draft-publish",
    ),
    re_path(
        r"^workflows/(?P<workflow_id>[0-9]{1,18})/draft/dry-run/?$",
        WorkflowDraftDryRunView.as_view(),
        name="workflow-draft-dry-run",
    ),
    re_path(
        r"^workflows/(?P<workflow_id>[0-9]{1,18})/tests/run/?$",
        WorkflowTestRunView.as_view(),
        name="workflow-tests-run",
    ),
    re_path(
        r"^workflows/(?P<workflow_id>[0-9]{1,18})/tests/?$",
        WorkflowTestViewSet.as_view({"get": "list", "post": "create"}),
        name="workflow-test-list",
    ),
    re_path(
        r"^workflows/(?P<workflow_id>[0-9]{1,18})/tests/(?P<test_id>[0-9]{1,18})/?$",
        WorkflowTestViewSet.as_view(
            {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
        ),
        name="workflow-test-detail",
    ),
    re_path(
        r"^workflows/(?P<workflow_id>[0-9]{1,18})/schedule/?$",
        WorkflowScheduleView.as_view(),
        name="workflow-schedule",
    ),
    re_path(
        r"^workflows/(?P<workflow_id>[0-9]{1,18})/revisions/?$",
        WorkflowRevisionViewSet.as_view({"get": "list"}),
        name="workflow-revision-list",
    ),
    re_path(
        r"^workflows/(?P<workflow_id>[0-9]{1,18})/revisions/(?P<number>[0-9]{1,9})/?$",
        WorkflowRevisionViewSet.as_view({"get": "retrieve"}),
        name="workflow-revision-detail",
    ),
    re_path(
        r"^workflows/(?P<workflow_id>[0-9]{1,18})/revisions/(?P<a>[0-9]{1,9})/diff/(?P<b>[0-9]{1,9})/?$",
        WorkflowRevisionViewSet.as_view({"get": "diff"}),
        name="workflow-revision-diff",
    ),
    re_path(
        r"^workflows/(?P<workflow_id>[0-9]{1,18})/revisions/(?P<number>[0-9]{1,9})/restore/?$",
        WorkflowRevisionViewSet.as_view({"post": "restore"}),
        name="workflow-revision-restore",
    ),
    *router.urls,
]
