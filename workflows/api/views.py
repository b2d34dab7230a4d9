"""Workflows and executions endpoints. Views parse and authorise; services do the work."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from core.strict import no_parameters_check
from workflows import selectors
from workflows.api.filters import ExecutionFilter, WorkflowFilter
from workflows.api.jobs import BulkReplayAcceptedSerializer, BulkReplaySerializer
from workflows.api.pagination import PageOrCursorPagination
from workflows.api.replay import (
    ReplayAcceptedSerializer,
    ReplayPlanSerializer,
    ReplayPreviewQuerySerializer,
    ReplayRequestSerializer,
)
from workflows.api.serializers import (
    DecisionSerializer,
    DryRunSerializer,
    ExecuteAcceptedSerializer,
    ExecutionDetailSerializer,
    ExecutionSerializer,
    WorkflowSerializer,
)
from workflows.models import AutomationExecution, AutomationWorkflow, TriggerType
from workflows.services.audit import actor_of_request
from workflows.services.dry_run import workflow_dry_run
from workflows.services.executions import (
    execution_cancel,
    execution_create,
    execution_decide,
    execution_retry,
)
from workflows.services.replay import bulk_replay_start, execution_replay, replay_plan
from workflows.services.workflows import workflow_create, workflow_delete, workflow_update

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX = 200


def idempotency_key_from(request: Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not 0 < len(key) <= IDEMPOTENCY_KEY_MAX:
        raise ValidationError(
            {IDEMPOTENCY_HEADER: [f"Must be 1 to {IDEMPOTENCY_KEY_MAX} characters."]}
        )
    return key


def payload_from(request: Request) -> dict[str, Any]:
    payload = request.data if request.data not in (None, "") else {}
    if not isinstance(payload, dict):
        raise ValidationError({"non_field_errors": ["The trigger payload must be a JSON object."]})
    return payload


class WorkflowViewSet(viewsets.ModelViewSet):
    serializer_class = WorkflowSerializer
    filterset_class = WorkflowFilter
    search_fields = ["name", "description"]
    ordering_fields = ["id", "name", "created_at", "last_run_at"]

    def get_queryset(self) -> QuerySet[AutomationWorkflow]:
        return selectors.workflow_list()

    def perform_create(self, serializer: BaseSerializer[AutomationWorkflow]) -> None:
        data = serializer.validated_data
        serializer.instance = workflow_create(
            data=data,
            user=self.request.user,
            change_note=data.get("change_note", ""),
            actor=actor_of_request(self.request),
        )

    def perform_update(self, serializer: BaseSerializer[AutomationWorkflow]) -> None:
        assert serializer.instance is not None
        data = serializer.validated_data
        serializer.instance = workflow_update(
            workflow=serializer.instance,
            data=data,
            user=self.request.user,
            change_note=data.get("change_note", ""),
            actor=actor_of_request(self.request),
        )

    def perform_destroy(self, instance: AutomationWorkflow) -> None:
        workflow_delete(workflow=instance, actor=actor_of_request(self.request))

    @extend_schema(
        request={"application/json": {"type": "object", "additionalProperties": True}},
        responses={
            202: ExecuteAcceptedSerializer,
            409: OpenApiResponse(
                description="Skipped: the overlap_policy is skip and a run is under way."
            ),
        },
        parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER)],
    )
    @action(detail=True, methods=["post"])
    def execute(self, request: Request, pk: str | None = None) -> Response:
        """Run a workflow now."""
        workflow = self.get_object()
        execution, _created = execution_create(
            workflow=workflow,
            trigger_type=TriggerType.MANUAL,
            payload=payload_from(request),
            idempotency_key=idempotency_key_from(request),
            triggered_by=actor_of_request(request),
        )
        return Response(
            {"execution_id": execution.pk, "status": execution.status},
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": f"../../executions/{execution.pk}"},
        )

    @extend_schema(
        request={"application/json": {"type": "object", "additionalProperties": True}},
        responses={200: DryRunSerializer},
    )
    @action(detail=True, methods=["post"], url_path="dry-run")
    def dry_run(self, request: Request, pk: str | None = None) -> Response:
        """Show what a run would do, without side effects."""
        report = workflow_dry_run(workflow=self.get_object(), payload=payload_from(request))
        return Response(report)


class ExecutionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    filterset_class = ExecutionFilter
    pagination_class = PageOrCursorPagination
    ordering_fields = ["id", "created_at", "completed_at", "execution_time_ms"]
    search_fields: list[str] = []

    def get_queryset(self) -> QuerySet[AutomationExecution]:
        if self.action == "list":
            return selectors.execution_list()
        return selectors.execution_detail_list()

    def get_serializer_class(self) -> type[BaseSerializer[AutomationExecution]]:
        return ExecutionSerializer if self.action == "list" else ExecutionDetailSerializer

    @extend_schema(request=None, responses={202: ExecutionDetailSerializer, 409: OpenApiResponse()})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        """Retry a failed execution from its failed step."""
        no_parameters_check(request)
        execution = execution_retry(execution=self.get_object(), actor=actor_of_request(request))
        return Response(ExecutionDetailSerializer(execution).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: ExecutionDetailSerializer, 409: OpenApiResponse()})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel an execution before its next step."""
        no_parameters_check(request)
        execution = execution_cancel(execution=self.get_object(), actor=actor_of_request(request))
        return Response(ExecutionDetailSerializer(execution).data)

    @extend_schema(
        request=DecisionSerializer,
        responses={202: ExecutionDetailSerializer, 409: OpenApiResponse()},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        """Approve the execution's waiting approval step."""
        return self._decide(request, approved=True)

    @extend_schema(
        request=DecisionSerializer,
        responses={202: ExecutionDetailSerializer, 409: OpenApiResponse()},
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        """Reject the execution's waiting approval step."""
        return self._decide(request, approved=False)

    @extend_schema(
        methods=["GET"],
        parameters=[ReplayPreviewQuerySerializer],
        responses={200: ReplayPlanSerializer, 400: OpenApiResponse(), 409: OpenApiResponse()},
        description="What a replay would do, step by step, before it starts: carried, marked or "
        "run, and which steps that run would send, commit or post again.",
    )
    @extend_schema(
        methods=["POST"],
        request=ReplayRequestSerializer,
        responses={202: ReplayAcceptedSerializer, 400: OpenApiResponse(), 409: OpenApiResponse()},
        description="Re-run a finished execution as a new one linked to it, from the start or a "
        "step, on its original or the current revision. Effects the origin made are not made "
        "again unless force_effects.",
    )
    @action(detail=True, methods=["get", "post"])
    def replay(self, request: Request, pk: str | None = None) -> Response:
        """Preview (GET) or start (POST) a replay of a finished execution."""
        if request.method == "GET":
            query = ReplayPreviewQuerySerializer(data=request.query_params.dict())
            query.is_valid(raise_exception=True)
            plan = replay_plan(execution=self.get_object(), **query.validated_data)
            return Response(plan.as_dict())
        asked = ReplayRequestSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        plan = replay_plan(execution=self.get_object(), **asked.validated_data)
        execution = execution_replay(plan=plan, actor=actor_of_request(request))
        accepted = {
            "execution_id": execution.pk,
            "status": execution.status,
            "replay_of": plan.origin.pk,
            "replay_from_step": plan.from_step or None,
        }
        return Response(accepted, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=BulkReplaySerializer,
        responses={202: BulkReplayAcceptedSerializer, 400: OpenApiResponse()},
    )
    @action(detail=False, methods=["post"], url_path="bulk-replay")
    def bulk_replay(self, request: Request) -> Response:
        """Replay, in the background, every finished execution the filter matches (oldest
        first, up to ``limit``); GET jobs/{job_id} follows its progress."""
        asked = BulkReplaySerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        filters = dict(asked.validated_data)
        job, matched = bulk_replay_start(
            filters=filters,
            start_from=filters.pop("from"),
            limit=filters.pop("limit"),
            max_concurrency=filters.pop("max_concurrency"),
            actor=actor_of_request(request),
        )
        accepted = {"job_id": job.pk, "matched": matched, "total": job.total}
        return Response(accepted, status=status.HTTP_202_ACCEPTED)

    def _decide(self, request: Request, *, approved: bool) -> Response:
        decision = DecisionSerializer(data=request.data)
        decision.is_valid(raise_exception=True)
        execution = execution_decide(
            execution=self.get_object(),
            approved=approved,
            user=request.user,
            comment=decision.validated_data["comment"],
            fields=decision.validated_data.get("fields"),
            actor=actor_of_request(request),
        )
        return Response(ExecutionDetailSerializer(execution).data, status=status.HTTP_202_ACCEPTED)
