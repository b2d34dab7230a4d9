"""Jobs (SPEC §11): a bulk replay's or a backfill's progress, and its cancel. Staff only."""

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.strict import StrictSerializer, no_parameters_check
from workflows.api.audit import ActorSerializer
from workflows.models import FINISHED_STATUSES, ExecutionStatus, Job
from workflows.services.audit import actor_of_request
from workflows.services.jobs import (
    MAX_CONCURRENCY_DEFAULT,
    MAX_CONCURRENCY_MAX,
    job_cancel,
    job_progress,
)
from workflows.services.replay import FROM_FAILED_STEP, FROM_START


class JobProgressSerializer(serializers.Serializer):
    processed = serializers.IntegerField(help_text="Items of the work list gone through.")
    started = serializers.IntegerField(help_text="Executions started.")
    refused = serializers.IntegerField(help_text="Items that could not start (see errors).")
    executions = serializers.DictField(
        child=serializers.IntegerField(), help_text="The job's executions by status."
    )


class JobSerializer(serializers.ModelSerializer[Job]):
    created_by = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "status",
            "workflow",
            "params",
            "total",
            "progress",
            "errors",
            "cancel_requested",
            "created_by",
            "created_at",
            "updated_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ActorSerializer(allow_null=True))
    def get_created_by(self, job: Job) -> dict[str, Any] | None:
        return job.created_by or None

    @extend_schema_field(JobProgressSerializer)
    def get_progress(self, job: Job) -> dict[str, Any]:
        return job_progress(job)


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Bulk replays and backfills, newest first, with their progress."""

    serializer_class = JobSerializer
    search_fields: list[str] = []
    ordering_fields = ["id", "created_at"]
    filterset_fields = ["kind", "status", "workflow"]

    def get_queryset(self) -> QuerySet[Job]:
        return Job.objects.order_by("-id")

    @extend_schema(request=None, responses={202: JobSerializer, 409: OpenApiResponse()})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Stop the job before its next batch; its runs not yet started are cancelled."""
        no_parameters_check(request)
        job = job_cancel(job=self.get_object(), actor=actor_of_request(request))
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class BulkReplaySerializer(StrictSerializer):
    workflow = serializers.IntegerField(required=False, min_value=1, help_text="A workflow id.")
    status = serializers.ChoiceField(
        choices=[str(value) for value in FINISHED_STATUSES], default=ExecutionStatus.FAILED.value
    )
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    error_contains = serializers.CharField(required=False, default="", max_length=200)
    limit = serializers.IntegerField(
        default=100,
        min_value=1,
        max_value=settings.JOB_MAX_ITEMS,
        help_text="The most executions replayed, oldest first.",
    )
    max_concurrency = serializers.IntegerField(
        default=MAX_CONCURRENCY_DEFAULT,
        min_value=1,
        max_value=MAX_CONCURRENCY_MAX,
        help_text="The most replays under way at once.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # "from" is a Python keyword: declared here rather than as a class attribute.
        self.fields["from"] = serializers.ChoiceField(
            choices=[FROM_FAILED_STEP, FROM_START],
            default=FROM_FAILED_STEP,
            help_text="Replay each from its failed step (the first not done), or from the start.",
        )


class BulkReplayAcceptedSerializer(serializers.Serializer):
    job_id = serializers.IntegerField()
    matched = serializers.IntegerField(help_text="Executions the filter matched in all.")
    total = serializers.IntegerField(help_text="Executions the job replays (at most limit).")
