"""The whole REST API surface, in one place. Paths work with or without a trailing slash."""

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from analytics.api import HealthView
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

urlpatterns = [
    re_path(r"^health/?$", HealthView.as_view(), name="health"),
    *router.urls,
]
