"""A workflow's test suite over the API: its saved cases (GET, POST workflows/{id}/tests; GET,
PUT, PATCH, DELETE workflows/{id}/tests/{test_id}) and POST workflows/{id}/tests/run (SPEC §11).
Staff only, as the rest of the API."""

import re
from typing import Any

import jmespath
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from jmespath.exceptions import JMESPathError
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from core.strict import StrictFieldsMixin, StrictSerializer
from integrations.selectors import connection_url
from workflows.drafts import NoDraft, draft_applied, draft_get
from workflows.models import AutomationWorkflow, WorkflowTest
from workflows.suites import CHECKS, workflow_tests_run

MAX_MOCKS = 50
MAX_EXPECTATIONS = 50


class MockSerializer(StrictSerializer):
    url = serializers.URLField(
        max_length=2000, required=False, help_text="Requests whose URL starts with it."
    )
    connection = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="Instead of url: the requests sent through this connection (to its webhook "
        "URL or API base).",
    )
    method = serializers.CharField(required=False, default="", max_length=10)
    status = serializers.IntegerField(default=200, min_value=100, max_value=599)
    body = serializers.JSONField(required=False, default=dict)
    headers = serializers.DictField(child=serializers.CharField(max_length=1000), default=dict)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("url" in attrs) == ("connection" in attrs):
            raise serializers.ValidationError({"url": ["Give exactly one of: url, connection."]})
        if "connection" in attrs and not connection_url(attrs["connection"]):
            raise serializers.ValidationError(
                {
                    "connection": [
                        f"Connection {attrs['connection']} does not exist or sends no HTTP."
                    ]
                }
            )
        return attrs


class ExpectationSerializer(StrictSerializer):
    path = serializers.CharField(max_length=500, help_text="JMESPath into the run's result.")
    equals = serializers.JSONField(required=False)
    contains = serializers.JSONField(required=False)
    matches = serializers.CharField(required=False, max_length=500)

    def validate_path(self, value: str) -> str:
        try:
            jmespath.compile(value)
        except JMESPathError as exc:
            raise serializers.ValidationError(f"Not a JMESPath expression: {exc}") from None
        return value

    def validate_matches(self, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise serializers.ValidationError(f"Not a regular expression: {exc}") from None
        return value

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        checks = [key for key in CHECKS if isinstance(data, dict) and key in data]
        if len(checks) != 1:
            raise serializers.ValidationError(
                {"non_field_errors": [f"Give exactly one of: {', '.join(CHECKS)}."]}
            )
        return dict(super().to_internal_value(data))


class WorkflowTestSerializer(StrictFieldsMixin, serializers.ModelSerializer[WorkflowTest]):
    mocks = serializers.ListField(child=MockSerializer(), required=False, max_length=MAX_MOCKS)
    expect = serializers.ListField(
        child=ExpectationSerializer(), required=False, max_length=MAX_EXPECTATIONS
    )
    payload = serializers.DictField(required=False, default=dict)

    class Meta:
        model = WorkflowTest
        fields = ["id", "name", "payload", "mocks", "expect", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class TestRunRequestSerializer(StrictSerializer):
    names = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        default=list,
        help_text="Run only these cases (by name); empty: all.",
    )
    draft = serializers.BooleanField(
        default=False, help_text="Run them on the workflow's draft instead of what runs now."
    )


class CaseOutcomeSerializer(serializers.Serializer):
    name = serializers.CharField()
    ok = serializers.BooleanField()
    failures = serializers.ListField(child=serializers.CharField())
    status = serializers.CharField(help_text="The run's status when it stopped.")


class TestRunSerializer(serializers.Serializer):
    passed = serializers.IntegerField()
    failed = serializers.IntegerField()
    cases = CaseOutcomeSerializer(many=True)


class WorkflowTestViewSet(viewsets.ModelViewSet):
    """A workflow's saved test cases."""

    serializer_class = WorkflowTestSerializer
    lookup_url_kwarg = "test_id"
    search_fields: list[str] = []
    ordering_fields = ["name"]
    pagination_class = None

    def _workflow(self) -> AutomationWorkflow:
        return get_object_or_404(AutomationWorkflow, pk=self.kwargs["workflow_id"])

    def get_queryset(self) -> QuerySet[WorkflowTest]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator, with no URL
            return WorkflowTest.objects.none()
        return WorkflowTest.objects.filter(workflow_id=self.kwargs["workflow_id"]).order_by("name")

    def perform_create(self, serializer: BaseSerializer[WorkflowTest]) -> None:
        serializer.save(workflow=self._workflow())

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self._workflow()  # 404 before 400
        name = request.data.get("name") if isinstance(request.data, dict) else None
        if name and self.get_queryset().filter(name=name).exists():
            raise serializers.ValidationError({"name": ["This workflow has a test so named."]})
        return super().create(request, *args, **kwargs)


class WorkflowTestRunView(APIView):
    @extend_schema(
        request=TestRunRequestSerializer,
        responses={200: TestRunSerializer},
        operation_id="workflows_tests_run_create",
    )
    def post(self, request: Request, workflow_id: str) -> Response:
        """Run the workflow's test cases in this process: nothing leaves it and nothing it
        writes is kept."""
        asked = TestRunRequestSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        workflow = get_object_or_404(AutomationWorkflow, pk=workflow_id)
        names = asked.validated_data["names"] or None
        if asked.validated_data["draft"]:
            try:
                workflow = draft_applied(workflow, draft_get(workflow))
            except NoDraft as exc:
                raise NotFound(str(exc)) from None
        return Response(workflow_tests_run(workflow=workflow, names=names))
