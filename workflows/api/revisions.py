"""A workflow's definition history: ``workflows/{id}/revisions[/{n}[/restore]]`` and
``workflows/{id}/revisions/{a}/diff/{b}``. Reads come from ``workflows.revisions``; a restore
goes through ``workflow_revision_restore``, which records a new revision."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from core.strict import StrictSerializer, text_field
from workflows import selectors
from workflows.models import AutomationWorkflow, WorkflowRevision
from workflows.revisions import (
    workflow_revision_diff,
    workflow_revision_get,
    workflow_revision_latest,
    workflow_revision_list,
)
from workflows.services.workflows import CHANGE_NOTE_MAX, workflow_revision_restore


class RevisionSerializer(serializers.ModelSerializer[WorkflowRevision]):
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = WorkflowRevision
        fields = ["number", "changed_fields", "change_note", "created_by", "created_at"]
        read_only_fields = fields

    def get_created_by(self, revision: WorkflowRevision) -> str | None:
        return revision.created_by.get_username() if revision.created_by else None


class RevisionDetailSerializer(RevisionSerializer):
    class Meta(RevisionSerializer.Meta):
        fields = [*RevisionSerializer.Meta.fields, "definition"]
        read_only_fields = fields


class RevisionDiffSerializer(serializers.Serializer):
    from_number = serializers.IntegerField()
    to_number = serializers.IntegerField()
    changed_fields = serializers.ListField(child=serializers.CharField())
    unified = serializers.CharField(help_text="Unified diff of the pretty-printed definitions.")


class RestoreInputSerializer(StrictSerializer):
    change_note = text_field(
        required=False, default="", allow_blank=True, max_length=CHANGE_NOTE_MAX
    )


class WorkflowRevisionViewSet(viewsets.GenericViewSet):
    serializer_class = RevisionSerializer
    filter_backends: list[type] = []

    def get_workflow(self) -> AutomationWorkflow:
        workflow_id = self.kwargs["workflow_id"]
        return get_object_or_404(selectors.workflow_list(), pk=workflow_id)

    def get_queryset(self) -> QuerySet[WorkflowRevision]:
        return workflow_revision_list(workflow=self.get_workflow())

    def list(self, request: Request, workflow_id: str) -> Response:
        """List a workflow's revisions, newest first."""
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(RevisionSerializer(page, many=True).data)

    @extend_schema(responses=RevisionDetailSerializer)
    def retrieve(self, request: Request, workflow_id: str, number: str) -> Response:
        """Get one revision of a workflow."""
        workflow = self.get_workflow()
        try:
            revision = workflow_revision_get(workflow=workflow, number=int(number))
        except WorkflowRevision.DoesNotExist:
            raise NotFound(f"Workflow {workflow.pk} has no revision {number}.") from None
        return Response(RevisionDetailSerializer(revision).data)

    @extend_schema(responses=RevisionDiffSerializer)
    def diff(self, request: Request, workflow_id: str, a: str, b: str) -> Response:
        """Compare two revisions of a workflow."""
        workflow = self.get_workflow()
        try:
            diff = workflow_revision_diff(workflow=workflow, from_number=int(a), to_number=int(b))
        except WorkflowRevision.DoesNotExist as exc:
            raise NotFound(str(exc)) from None
        data = {
            "from_number": diff.old.number,
            "to_number": diff.new.number,
            "changed_fields": diff.changed_fields,
            "unified": diff.unified,
        }
        return Response(RevisionDiffSerializer(data).data)

    @extend_schema(
        request=RestoreInputSerializer,
        responses={201: RevisionDetailSerializer, 200: RevisionDetailSerializer},
    )
    def restore(self, request: Request, workflow_id: str, number: str) -> Response:
        """Apply revision ``number``'s definition: 201 with the new revision it recorded, or
        200 with the current revision when the definition already is that one."""
        given = RestoreInputSerializer(data=request.data or {})
        given.is_valid(raise_exception=True)
        workflow = self.get_workflow()
        before = workflow_revision_latest(workflow=workflow)
        try:
            workflow_revision_restore(
                workflow=workflow,
                number=int(number),
                user=request.user,
                change_note=given.validated_data["change_note"],
            )
        except WorkflowRevision.DoesNotExist:
            raise NotFound(f"Workflow {workflow.pk} has no revision {number}.") from None
        after = workflow_revision_latest(workflow=workflow)
        recorded = after is not None and (before is None or after.pk != before.pk)
        return Response(
            RevisionDetailSerializer(after).data,
            status=status.HTTP_201_CREATED if recorded else status.HTTP_200_OK,
        )
