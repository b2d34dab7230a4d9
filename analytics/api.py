"""Analytics endpoints: stats and activity for any signed-in user, health for anyone."""

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from analytics import selectors
from analytics.selectors.health import system_health
from analytics.serializers import (
    ActivityPageSerializer,
    HealthSerializer,
    StatsSerializer,
    WorkflowStatsDetailSerializer,
)
from workflows.models import AutomationWorkflow

ACTIVITY_PAGE_SIZE = 50


class HealthView(APIView):
    """200 when the system can take work (``ok`` or ``degraded``), 503 when it is ``down``."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(responses={200: HealthSerializer, 503: HealthSerializer})
    def get(self, request: Request) -> Response:
        """Report the health of each component."""
        health = system_health()
        return Response(health, status=503 if health["status"] == "down" else 200)


class StatsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=StatsSerializer)
    def get(self, request: Request) -> Response:
        """Get the system's stats."""
        return Response(selectors.stats_overview())


class WorkflowStatsView(APIView):
    """Staff only, like the workflow it describes (the API's default permission)."""

    @extend_schema(responses=WorkflowStatsDetailSerializer, operation_id="workflows_stats_retrieve")
    def get(self, request: Request, workflow_id: str) -> Response:
        """Get a workflow's stats."""
        workflow = get_object_or_404(AutomationWorkflow, pk=workflow_id)
        return Response(selectors.workflow_stats_detail(workflow=workflow))


class ActivityQuerySerializer(serializers.Serializer):
    kind = serializers.ListField(
        child=serializers.ChoiceField(choices=list(selectors.ACTIVITY_KINDS)), required=False
    )
    cursor = serializers.CharField(required=False, max_length=200)
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=selectors.ACTIVITY_LIMIT_MAX
    )

    def to_internal_value(self, data: Any) -> Any:
        # ?kind=a&kind=b and ?kind=a,b both filter on several kinds.
        kinds = [part for value in data.getlist("kind") for part in value.split(",") if part]
        plain = {key: data.get(key) for key in ("cursor", "page_size") if key in data}
        return super().to_internal_value({**plain, **({"kind": kinds} if kinds else {})})


class ActivityView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "kind", str, many=True, enum=list(selectors.ACTIVITY_KINDS),
                description="Only these kinds (repeat, or separate with commas).",
            ),
            OpenApiParameter("cursor", str, description="The `next` link's cursor."),
            OpenApiParameter("page_size", int, description="Up to 200; default 50."),
        ],
        responses=ActivityPageSerializer,
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        """List recent activity."""
        query = ActivityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        try:
            page = selectors.activity_feed(
                kinds=params.get("kind"),
                cursor=params.get("cursor"),
                limit=params.get("page_size", ACTIVITY_PAGE_SIZE),
            )
        except selectors.CursorInvalid as exc:
            raise serializers.ValidationError({"cursor": [str(exc)]}) from exc
        next_url = None
        if page["next_cursor"]:
            next_url = replace_query_param(
                request.build_absolute_uri(), "cursor", page["next_cursor"]
            )
        return Response({"results": page["results"], "next": next_url})
