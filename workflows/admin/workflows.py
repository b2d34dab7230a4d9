"""Admin pages of workflows and their revisions."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework import serializers

from core.admin import ReadOnlyAdminMixin
from workflows.definition import definition_validate
from workflows.models import (
    AutomationWorkflow,
    WorkflowDraft,
    WorkflowRevision,
    WorkflowTest,
)
from workflows.services.audit import actor_of_request
from workflows.services.executions import (
    execution_create,
)
from workflows.services.overlap import OverlapSkipped, overlap_settings
from workflows.services.workflows import (
    DEFINITION_FIELDS,
    EDITABLE_FIELDS,
    workflow_create,
    workflow_delete,
    workflow_set_active,
    workflow_update,
)


def _error_lines(detail: Any, path: str = "") -> list[str]:
    """DRF's nested error detail as "path: message" lines."""
    if isinstance(detail, dict):
        return [
            line
            for key, value in detail.items()
            for line in _error_lines(value, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(detail, list):
        return [line for item in detail for line in _error_lines(item, path)]
    return [f"{path}: {detail}" if path else str(detail)]


class WorkflowAdminForm(forms.ModelForm):
    """The definition is checked as the API checks it, each problem beside its field."""

    class Meta:
        model = AutomationWorkflow
        fields = list(EDITABLE_FIELDS)

    change_note = forms.CharField(
        required=False,
        max_length=500,
        help_text="Why the definition changes; kept with the revision this save records.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["actions"].required = False  # a workflow may have no action yet
        # Left empty: the policy that goes with max_concurrency (services/overlap.py).
        self.fields["overlap_policy"].required = False

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("actions") is None:
            cleaned["actions"] = []
        if not cleaned.get("overlap_policy"):
            cleaned.pop("overlap_policy", None)
        try:
            definition_validate(
                trigger=cleaned.get("trigger"),
                actions=cleaned.get("actions"),
                schedule=cleaned.get("schedule"),
                # The admin cannot set a secret (it is write-only, set through the API).
                has_webhook_secret=bool(self.instance.webhook_secret),
            )
            current = self.instance if self.instance.pk else None
            cleaned.update(overlap_settings(data=cleaned, current=current))
            if current is not None and current.publish_requires_tests:
                _definition_unchanged(current, cleaned)
        except serializers.ValidationError as exc:
            assert isinstance(exc.detail, dict)
            for field, detail in exc.detail.items():
                target = field if field in self.fields else None
                for line in _error_lines(detail):
                    self.add_error(target, line)
        return cleaned


def _definition_unchanged(workflow: AutomationWorkflow, cleaned: dict[str, Any]) -> None:
    """The admin edits no definition that goes live through its draft."""
    changed = [
        key
        for key in DEFINITION_FIELDS
        if key in cleaned and (cleaned[key] or "") != (getattr(workflow, key) or "")
    ]
    if changed:
        message = (
            "This workflow goes live through its draft (publish_requires_tests): edit it in the "
            "dashboard's editor or with PUT workflows/{id}/draft, then publish it."
        )
        raise serializers.ValidationError({key: [message] for key in changed})


class RevisionInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The workflow's definition history, newest first: read-only, as history is."""

    model = WorkflowRevision
    extra = 0
    can_delete = False
    ordering = ["-number"]
    fields = readonly_fields = (
        "number",
        "created_at",
        "created_by",
        "change_note",
        "changed_fields",
        "definition",
    )


@admin.register(AutomationWorkflow)
class AutomationWorkflowAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "workflow_type",
        "trigger_type",
        "is_active",
        "version",
        "run_count",
        "success_count",
        "failure_count",
        "last_status",
        "last_run_at",
    ]
    list_filter = ["is_active", "workflow_type", "trigger_type", "last_status"]
    search_fields = ["name", "description"]
    # The form holds no signing secret: those are set through the API (write-only).
    form = WorkflowAdminForm
    readonly_fields = [
        "trigger_type",
        "webhook_token",
        "webhook_secret_rotated_at",
        "version",
        "run_count",
        "success_count",
        "failure_count",
        "avg_execution_time_ms",
        "last_run_at",
        "last_status",
        "created_by",
        "created_at",
        "updated_at",
    ]
    actions = ["run_now", "activate", "deactivate"]
    inlines = [RevisionInline]

    # Saves and deletes go through the services: the trigger type and webhook token follow the
    # definition, the version is bumped, and the schedule is kept in step with Beat.
    def save_model(
        self, request: HttpRequest, obj: AutomationWorkflow, form: Any, change: bool
    ) -> None:
        data = {key: form.cleaned_data[key] for key in EDITABLE_FIELDS if key in form.cleaned_data}
        note = form.cleaned_data.get("change_note", "")
        if change:
            saved = workflow_update(
                workflow=AutomationWorkflow.objects.get(pk=obj.pk),
                data=data,
                user=request.user,
                change_note=note,
                actor=actor_of_request(request),
            )
        else:
            saved = workflow_create(
                data=data, user=request.user, change_note=note, actor=actor_of_request(request)
            )
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: AutomationWorkflow) -> None:
        workflow_delete(workflow=obj, actor=actor_of_request(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AutomationWorkflow]) -> None:
        for workflow in queryset:
            workflow_delete(workflow=workflow, actor=actor_of_request(request))

    @admin.action(description="Run now")
    def run_now(self, request: HttpRequest, queryset: QuerySet[AutomationWorkflow]) -> None:
        for workflow in queryset:
            try:
                execution, _ = execution_create(
                    workflow=workflow,
                    trigger_type="manual",
                    payload={},
                    triggered_by=actor_of_request(request),
                )
            except OverlapSkipped as exc:
                self.message_user(request, f"{workflow.name}: {exc}", level=messages.WARNING)
                continue
            self.message_user(request, f"Queued execution {execution.pk} of {workflow.name}.")

    @admin.action(description="Activate")
    def activate(self, request: HttpRequest, queryset: QuerySet[AutomationWorkflow]) -> None:
        for workflow in queryset:
            workflow_set_active(workflow=workflow, is_active=True)
        self.message_user(request, f"Activated {queryset.count()} workflows.")

    @admin.action(description="Deactivate")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[AutomationWorkflow]) -> None:
        for workflow in queryset:
            workflow_set_active(workflow=workflow, is_active=False)
        self.message_user(request, f"Deactivated {queryset.count()} workflows.")


@admin.register(WorkflowTest)
class WorkflowTestAdmin(admin.ModelAdmin):
    """Workflows' saved test cases (the dashboard's Tests page runs them)."""

    list_display = ["name", "workflow", "updated_at"]
    list_select_related = ["workflow"]
    list_filter = ["workflow"]
    search_fields = ["name", "workflow__name"]


@admin.register(WorkflowDraft)
class WorkflowDraftAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Unpublished edits: read here, edited and published through the API."""

    list_display = ["workflow", "based_on", "updated_by", "updated_at"]
    readonly_fields = ["workflow", "definition", "based_on", "updated_by", "updated_at"]
