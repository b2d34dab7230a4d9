"""Workflows as code over the API: ``GET workflows/{id}/export`` and ``POST workflows/import``
(``?dry_run=true``), with the semantics of the export_workflows / import_workflows commands."""

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.parsing import BoundedJSONParser
from workflows import selectors
from workflows.as_code.document import DocumentInvalid, document_parse
from workflows.as_code.exporting import workflows_export
from workflows.as_code.importing import workflows_import

DOCUMENT_SCHEMA = {
    "type": "object",
    "properties": {
        "version": {"type": "integer", "enum": [1]},
        "workflows": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
    },
    "required": ["workflows"],
}
TRUE_VALUES = {"1", "true", "yes", "on"}


class YAMLParser(BaseParser):
    """A document sent as YAML (``Content-Type: application/yaml``), read safely."""

    media_type = "application/yaml"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return document_parse(stream.read().decode("utf-8"))
        except UnicodeDecodeError:
            raise ParseError("The YAML document is not UTF-8.") from None
        except DocumentInvalid as exc:
            raise ParseError("; ".join(exc.lines())) from None


class ImportResultSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    workflows = serializers.ListField(child=serializers.DictField())
    warnings = serializers.ListField(child=serializers.CharField())


class WorkflowExportView(APIView):
    @extend_schema(responses={200: DOCUMENT_SCHEMA})
    def get(self, request: Request, workflow_id: str) -> Response:
        """Export a workflow as code."""
        workflow = get_object_or_404(selectors.workflow_list(), pk=workflow_id)
        return Response(workflows_export(workflows=[workflow]))


class WorkflowImportView(APIView):
    parser_classes = [BoundedJSONParser, YAMLParser]

    @extend_schema(
        request={"application/json": DOCUMENT_SCHEMA, "application/yaml": DOCUMENT_SCHEMA},
        parameters=[OpenApiParameter("dry_run", bool, description="Validate and plan only.")],
        responses={
            200: ImportResultSerializer,
            400: OpenApiResponse(description='Problems by path: {"workflows[0].name": ["…"]}'),
        },
    )
    def post(self, request: Request) -> Response:
        """Import workflows from code."""
        dry_run = request.query_params.get("dry_run", "").lower() in TRUE_VALUES
        try:
            result = workflows_import(document=request.data, dry_run=dry_run, user=request.user)
        except DocumentInvalid as exc:
            return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
        return Response(result.as_dict())
