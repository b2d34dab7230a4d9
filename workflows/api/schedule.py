"""GET workflows/{id}/schedule: when a schedule workflow fires next (staff only, as the rest of
the workflows API)."""

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows import selectors
from workflows.models import AutomationWorkflow

NEXT_DEFAULT = 5
NEXT_MAX = 100


class ScheduleQuerySerializer(serializers.Serializer):
    next = serializers.IntegerField(
        required=False,
        default=NEXT_DEFAULT,
        min_value=1,
        max_value=NEXT_MAX,
        help_text=f"How many fire times to list (1 to {NEXT_MAX}).",
    )


class SchedulePreviewSerializer(serializers.Serializer):
    timezone = serializers.CharField(help_text="The trigger's time zone (IANA name).")
    description = serializers.CharField(help_text='E.g. "Every day at 09:00 (Europe/Paris)".')
    next = serializers.ListField(
        child=serializers.DateTimeField(),
        help_text="The next fire times, ISO 8601 in the trigger's time zone; none before "
        "paused_until.",
    )
    paused_until = serializers.DateTimeField(
        allow_null=True, help_text="The schedule starts nothing before this; null: not paused."
    )


class WorkflowScheduleView(APIView):
    @extend_schema(
        parameters=[ScheduleQuerySerializer],
        responses={
            200: SchedulePreviewSerializer,
            409: OpenApiResponse(description="The workflow's trigger is not a schedule."),
        },
        operation_id="workflows_schedule_retrieve",
    )
    def get(self, request: Request, workflow_id: str) -> Response:
        """Get when a schedule workflow fires next."""
        query = ScheduleQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        workflow = get_object_or_404(AutomationWorkflow, pk=workflow_id)
        try:
            preview = selectors.workflow_schedule_preview(
                workflow=workflow, count=query.validated_data["next"], now=timezone.now()
            )
        except selectors.ScheduleMissing as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(preview.as_dict())
