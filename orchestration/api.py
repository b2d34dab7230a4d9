"""Orchestrations and their runs over the API. Views parse and authorise; services do the work."""

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from core.strict import StrictFieldsMixin
from orchestration import selectors
from orchestration.models import APIOrchestration, OrchestrationRun, RunStatus
from orchestration.patterns import PATTERN_CHOICES
from orchestration.services import (
    OrchestrationInactive,
    orchestration_create,
    orchestration_delete,
    orchestration_run_create,
    orchestration_update,
)
from orchestration.validation import orchestration_validate
from workflows.selectors import success_rate
from workflows.services.audit import actor_of_request

MAX_WAIT_S = 60.0


class OrchestrationSerializer(StrictFieldsMixin, serializers.ModelSerializer[APIOrchestration]):
    type = serializers.ChoiceField(choices=PATTERN_CHOICES, default="sequential")
    api_calls = serializers.JSONField(required=False)
    dependencies = serializers.JSONField(required=False)
    retry_strategy = serializers.JSONField(required=False)
    success_rate = serializers.SerializerMethodField()

    class Meta:
        model = APIOrchestration
        fields = [
            "id",
            "name",
            "description",
            "type",
            "api_calls",
            "dependencies",
            "retry_strategy",
            "is_active",
            "success_count",
            "failure_count",
            "success_rate",
            "avg_duration_ms",
            "last_run_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "success_count",
            "failure_count",
            "avg_duration_ms",
            "last_run_at",
            "created_at",
            "updated_at",
        ]

    def get_success_rate(self, orchestration: APIOrchestration) -> float | None:
        return success_rate(orchestration.success_count, orchestration.failure_count)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Validate the whole definition, whichever part of it a PATCH touches."""
        definition: dict[str, Any] = {
            "type": "sequential",
            "api_calls": [],
            "dependencies": {},
            "retry_strategy": {},
        }
        for key in definition:
            if key in attrs:
                definition[key] = attrs[key]
            elif self.instance is not None:
                definition[key] = getattr(self.instance, key)
        orchestration_validate(**definition)
        return {**attrs, **definition}


class OrchestrationRunSerializer(serializers.ModelSerializer[OrchestrationRun]):
    orchestration_name = serializers.CharField(source="orchestration.name", read_only=True)

    class Meta:
        model = OrchestrationRun
        fields = [
            "id",
            "orchestration",
            "orchestration_name",
            "status",
            "error",
            "retryable",
            "created_at",
            "started_at",
            "completed_at",
            "duration_ms",
        ]
        read_only_fields = fields


class OrchestrationRunDetailSerializer(OrchestrationRunSerializer):
    class Meta(OrchestrationRunSerializer.Meta):
        fields = [*OrchestrationRunSerializer.Meta.fields, "input", "result", "calls"]
        read_only_fields = fields


class ExecuteSerializer(serializers.Serializer):
    input = serializers.JSONField(required=False, default=dict)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValidationError({"non_field_errors": ['Send a JSON object: {"input": ...}.']})
        unknown = sorted(set(data) - {"input"})
        if unknown:
            message = 'Unknown field: send the run\'s input as {"input": ...}.'
            raise ValidationError({name: [message] for name in unknown})
        return super().to_internal_value(data)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def wait_from(request: Request) -> float | None:
    """The ``?wait=N`` seconds to wait for the run, if asked; 400 unless 0 < N <= 60."""
    raw = request.query_params.get("wait")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= MAX_WAIT_S:
        message = f"Must be a number of seconds above 0 and at most {MAX_WAIT_S:g}."
        raise ValidationError({"wait": [message]})
    return seconds


class OrchestrationViewSet(viewsets.ModelViewSet):
    serializer_class = OrchestrationSerializer
    filterset_fields = ["type", "is_active"]
    search_fields = ["name", "description"]
    ordering_fields = ["id", "name", "created_at", "last_run_at"]

    def get_queryset(self) -> QuerySet[APIOrchestration]:
        return selectors.orchestration_list()

    def perform_create(self, serializer: BaseSerializer[APIOrchestration]) -> None:
        serializer.instance = orchestration_create(
            data=serializer.validated_data,
            user=self.request.user,
            actor=actor_of_request(self.request),
        )

    def perform_update(self, serializer: BaseSerializer[APIOrchestration]) -> None:
        assert serializer.instance is not None
        serializer.instance = orchestration_update(
            orchestration=serializer.instance,
            data=serializer.validated_data,
            actor=actor_of_request(self.request),
        )

    def perform_destroy(self, instance: APIOrchestration) -> None:
        orchestration_delete(orchestration=instance, actor=actor_of_request(self.request))

    @extend_schema(
        request=ExecuteSerializer,
        parameters=[OpenApiParameter("wait", float, description="Seconds to wait, up to 60.")],
        responses={
            200: OrchestrationRunDetailSerializer,
            202: OrchestrationRunDetailSerializer,
            409: OpenApiResponse(description="The orchestration is inactive."),
        },
    )
    @action(detail=True, methods=["post"])
    def execute(self, request: Request, pk: str | None = None) -> Response:
        """Run an orchestration."""
        orchestration = self.get_object()
        wait_s = wait_from(request)
        body = ExecuteSerializer(data=request.data if request.data is not None else {})
        body.is_valid(raise_exception=True)
        try:
            run = orchestration_run_create(
                orchestration=orchestration, input=body.validated_data["input"]
            )
        except OrchestrationInactive as exc:
            raise Conflict(str(exc)) from None
        if wait_s is not None:
            run = selectors.orchestration_run_wait(run_id=run.pk, timeout_s=wait_s)
        return Response(
            OrchestrationRunDetailSerializer(run).data,
            status=status.HTTP_200_OK if run.is_finished else status.HTTP_202_ACCEPTED,
            headers={"Location": f"../../orchestration-runs/{run.pk}"},
        )

    @extend_schema(responses=OrchestrationRunSerializer(many=True))
    @action(detail=True, methods=["get"])
    def runs(self, request: Request, pk: str | None = None) -> Response:
        """List an orchestration's runs."""
        queryset = selectors.orchestration_run_list().filter(orchestration=self.get_object())
        page = self.paginate_queryset(queryset)
        data = OrchestrationRunSerializer(page, many=True).data
        return self.get_paginated_response(data)


class OrchestrationRunFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=RunStatus.choices)

    class Meta:
        model = OrchestrationRun
        fields = ["orchestration", "status"]


class OrchestrationRunViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    filterset_class = OrchestrationRunFilter
    ordering_fields = ["id", "created_at", "completed_at", "duration_ms"]
    search_fields: list[str] = []

    def get_queryset(self) -> QuerySet[OrchestrationRun]:
        if self.action == "list":
            return selectors.orchestration_run_list()
        return selectors.orchestration_run_detail_list()

    def get_serializer_class(self) -> type[BaseSerializer[OrchestrationRun]]:
        if self.action == "list":
            return OrchestrationRunSerializer
        return OrchestrationRunDetailSerializer
