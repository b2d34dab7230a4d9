"""The whole REST API surface, in one place. Paths work with or without a trailing slash."""

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from alerts.api import AlertViewSet, NotificationViewSet
from analytics.api import HealthView
from integrations.api import ConnectionViewSet
from orchestration.api import OrchestrationRunViewSet, OrchestrationViewSet
from versioning.api import ArticleViewSet, VersionViewSet
from workflows.api.triggers import EventView, WebhookView
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

urlpatterns = [
    re_path(r"^health/?$", HealthView.as_view(), name="health"),
    re_path(r"^events/?$", EventView.as_view(), name="events"),
    re_path(r"^hooks/(?P<token>[A-Za-z0-9_-]{1,100})/?$", WebhookView.as_view(), name="webhook"),
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
    *router.urls,
]
