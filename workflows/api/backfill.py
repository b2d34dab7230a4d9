"""POST workflows/{id}/backfill (SPEC §11): run a schedule's past slots as a job (staff only)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.strict import StrictSerializer
from workflows.models import AutomationWorkflow
from workflows.services.audit import actor_of_request
from workflows.services.backfill import NotScheduled, backfill_start
from workflows.services.jobs import MAX_CONCURRENCY_DEFAULT, MAX_CONCURRENCY_MAX


class BackfillSerializer(StrictSerializer):
    start = serializers.DateTimeField(help_text="The first moment of the range (included).")
    end = serializers.DateTimeField(help_text="The last moment of the range (included); past.")
    max_concurrency = serializers.IntegerField(
        default=MAX_CONCURRENCY_DEFAULT,
        min_value=1,
        max_value=MAX_CONCURRENCY_MAX,
        help_text="The most backfilled runs under way at once.",
    )


class BackfillAcceptedSerializer(serializers.Serializer):
    job_id = serializers.IntegerField()
    slots = serializers.IntegerField(help_text="The slots the range holds.")
    already_run = serializers.IntegerField(help_text="Of those, slots that had an execution.")
    total = serializers.IntegerField(help_text="The slots the job runs.")


class WorkflowBackfillView(APIView):
    @extend_schema(
        request=BackfillSerializer,
        responses={
            202: BackfillAcceptedSerializer,
            400: OpenApiResponse(description="A field is invalid; each one is named."),
            409: OpenApiResponse(description="The workflow's trigger is not a schedule."),
        },
        operation_id="workflows_backfill_create",
    )
    def post(self, request: Request, workflow_id: str) -> Response:
        """Run each slot of the range that has no execution yet, oldest first, in the
        background; GET jobs/{job_id} follows it."""
        asked = BackfillSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        workflow = get_object_or_404(AutomationWorkflow, pk=workflow_id)
        try:
            job, slots, already_run = backfill_start(
                workflow=workflow, actor=actor_of_request(request), **asked.validated_data
            )
        except NotScheduled as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        accepted = {
            "job_id": job.pk,
            "slots": slots,
            "already_run": already_run,
            "total": job.total,
        }
        return Response(accepted, status=status.HTTP_202_ACCEPTED)
