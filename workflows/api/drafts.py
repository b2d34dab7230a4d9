"""A workflow's draft over the API: GET, PUT and DELETE workflows/{id}/draft, POST
workflows/{id}/draft/publish and POST workflows/{id}/draft/dry-run (workflows/drafts.py).
Staff only, as the rest of the API."""

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.strict import StrictSerializer
from workflows.api.serializers import DryRunSerializer, WorkflowSerializer
from workflows.api.views import payload_from
from workflows.drafts import (
    NoDraft,
    PublishRefused,
    draft_applied,
    draft_changes,
    draft_discard,
    draft_get,
    draft_publish,
    draft_save,
)
from workflows.models import AutomationWorkflow, WorkflowDraft
from workflows.revisions import REVISION_FIELDS, workflow_revision_latest
from workflows.services.audit import actor_of_request
from workflows.services.dry_run import workflow_dry_run


class DraftSerializer(serializers.Serializer):
    workflow = serializers.IntegerField()
    definition = serializers.JSONField(help_text="The workflow as it would be once published.")
    changed_fields = serializers.ListField(
        child=serializers.CharField(), help_text="Where the draft differs from what runs now."
    )
    based_on = serializers.IntegerField(
        allow_null=True, help_text="The revision the draft started from."
    )
    live_revision = serializers.IntegerField(allow_null=True)
    updated_at = serializers.DateTimeField()
    updated_by = serializers.CharField(allow_null=True)


def _shown(workflow: AutomationWorkflow, draft: WorkflowDraft) -> dict[str, Any]:
    live = workflow_revision_latest(workflow=workflow)
    return {
        "workflow": workflow.pk,
        "definition": draft.definition,
        "changed_fields": draft_changes(workflow, draft),
        "based_on": draft.based_on,
        "live_revision": live.number if live else None,
        "updated_at": draft.updated_at,
        "updated_by": draft.updated_by.get_username() if draft.updated_by else None,
    }


def _found(workflow: AutomationWorkflow) -> WorkflowDraft:
    try:
        return draft_get(workflow)
    except NoDraft as exc:
        raise NotFound(str(exc)) from None


class WorkflowDraftView(APIView):
    @extend_schema(responses={200: DraftSerializer, 404: OpenApiResponse()})
    def get(self, request: Request, workflow_id: str) -> Response:
        """The workflow's draft and where it differs from what runs now."""
        workflow = get_object_or_404(AutomationWorkflow, pk=workflow_id)
        return Response(_shown(workflow, _found(workflow)))

    @extend_schema(
        request=WorkflowSerializer,
        responses={200: DraftSerializer, 400: OpenApiResponse()},
        description="Save definition fields (name, description, workflow_type, trigger, "
        "actions, schedule, max_concurrency, overlap_policy) to the draft, validated as a "
        "workflow write; what runs does not change until the draft is published.",
    )
    def put(self, request: Request, workflow_id: str) -> Response:
        """Save definition fields to the workflow's draft."""
        workflow = get_object_or_404(AutomationWorkflow, pk=workflow_id)
        body = request.data if isinstance(request.data, dict) else {}
        others = sorted(set(body) - set(REVISION_FIELDS))
        if others:
            known = ", ".join(REVISION_FIELDS)
            message = f"Not part of a draft; set it on the workflow. A draft takes: {known}."
            raise serializers.ValidationError({key: [message] for key in others})
        current = WorkflowDraft.objects.filter(workflow=workflow).first()
        base = draft_applied(workflow, current) if current else workflow
        checked = WorkflowSerializer(
            instance=base, data=body, partial=True, context={"request": request}
        )
        checked.is_valid(raise_exception=True)
        draft = draft_save(
            workflow=workflow,
            data={key: value for key, value in checked.validated_data.items()},
            user=request.user,
            actor=actor_of_request(request),
        )
        return Response(_shown(workflow, draft))

    @extend_schema(responses={204: None, 404: OpenApiResponse()})
    def delete(self, request: Request, workflow_id: str) -> Response:
        """Discard the draft; what runs does not change."""
        workflow = get_object_or_404(AutomationWorkflow, pk=workflow_id)
        try:
            draft_discard(workflow=workflow, actor=actor_of_request(request))
        except NoDraft as exc:
            raise NotFound(str(exc)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class PublishSerializer(StrictSerializer):
    change_note = serializers.CharField(
        max_length=500, required=False, default="", allow_blank=True
    )


class WorkflowDraftPublishView(APIView):
    @extend_schema(
        request=PublishSerializer,
        responses={200: WorkflowSerializer, 404: OpenApiResponse(), 409: OpenApiResponse()},
        description="Make the draft live: a new revision, as any edit. With "
        "publish_requires_tests the suite runs on the draft first, and a failure is a 409 with "
        "its outcome (`tests`), changing nothing.",
    )
    def post(self, request: Request, workflow_id: str) -> Response:
        """Make the workflow's draft live."""
        asked = PublishSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        workflow = get_object_or_404(AutomationWorkflow, pk=workflow_id)
        try:
            published = draft_publish(
                workflow=workflow,
                user=request.user,
                change_note=asked.validated_data["change_note"],
                actor=actor_of_request(request),
            )
        except NoDraft as exc:
            raise NotFound(str(exc)) from None
        except PublishRefused as exc:
            return Response(
                {"detail": exc.message, "tests": exc.tests}, status=status.HTTP_409_CONFLICT
            )
        return Response(WorkflowSerializer(published, context={"request": request}).data)


class WorkflowDraftDryRunView(APIView):
    @extend_schema(
        request={"application/json": {"type": "object", "additionalProperties": True}},
        responses={200: DryRunSerializer, 404: OpenApiResponse()},
    )
    def post(self, request: Request, workflow_id: str) -> Response:
        """Show what a run of the draft would do, without side effects."""
        workflow = get_object_or_404(AutomationWorkflow, pk=workflow_id)
        applied = draft_applied(workflow, _found(workflow))
        return Response(workflow_dry_run(workflow=applied, payload=payload_from(request)))
