from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from rest_framework import serializers

from core.admin import ReadOnlyAdminMixin
from orchestration.models import APIOrchestration, OrchestrationRun
from orchestration.services import OrchestrationInactive, orchestration_run_create
from orchestration.validation import orchestration_validate
from workflows.admin.audit import AuditedAdminMixin


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    """DRF's nested error detail as "path: message" lines, for a form field."""
    if isinstance(detail, dict):
        lines = []
        for key, value in detail.items():
            lines += _flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return lines
    if isinstance(detail, list):
        return [line for item in detail for line in _flatten(item, prefix)]
    return [f"{prefix}: {detail}" if prefix else str(detail)]


class APIOrchestrationForm(forms.ModelForm):
    class Meta:
        model = APIOrchestration
        fields = [
            "name",
            "description",
            "type",
            "api_calls",
            "dependencies",
            "retry_strategy",
            "is_active",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("type") is None:
            return cleaned
        try:
            orchestration_validate(
                type=cleaned["type"],
                api_calls=cleaned.get("api_calls"),
                dependencies=cleaned.get("dependencies"),
                retry_strategy=cleaned.get("retry_strategy"),
            )
        except serializers.ValidationError as exc:
            assert isinstance(exc.detail, dict)
            for field, detail in exc.detail.items():
                self.add_error(field, _flatten(detail))
        return cleaned


class RunInline(admin.TabularInline):
    model = OrchestrationRun
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    ordering = ["-id"]
    fields = readonly_fields = (
        "status",
        "created_at",
        "duration_ms",
        "error",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrchestrationRun]:
        return super().get_queryset(request).defer("input", "result", "calls", "definition")


@admin.register(APIOrchestration)
class APIOrchestrationAdmin(AuditedAdminMixin):
    audit_object_type = "orchestration"
    form = APIOrchestrationForm
    list_display = [
        "name",
        "type",
        "is_active",
        "success_count",
        "failure_count",
        "avg_duration_ms",
        "last_run_at",
    ]
    list_filter = ["type", "is_active"]
    search_fields = ["name", "description"]
    readonly_fields = [
        "success_count",
        "failure_count",
        "avg_duration_ms",
        "last_run_at",
        "created_by",
        "created_at",
        "updated_at",
    ]
    inlines = [RunInline]
    actions = ["run_now"]

    @admin.action(description="Run now (empty input)")
    def run_now(self, request: HttpRequest, queryset: QuerySet[APIOrchestration]) -> None:
        for orchestration in queryset:
            try:
                run = orchestration_run_create(orchestration=orchestration, input={})
            except OrchestrationInactive as exc:
                self.message_user(request, str(exc), level=messages.WARNING)
                continue
            self.message_user(request, f"Queued run {run.pk} of {orchestration.name}.")


@admin.register(OrchestrationRun)
class OrchestrationRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "orchestration", "status", "duration_ms", "created_at", "completed_at"]
    list_filter = ["status", "orchestration"]
    list_select_related = ["orchestration"]
    search_fields = ["id", "orchestration__name", "error"]
    date_hierarchy = "created_at"
    fields = readonly_fields = (
        "orchestration",
        "status",
        "error",
        "retryable",
        "call_results",
        "input",
        "result",
        "created_at",
        "started_at",
        "completed_at",
        "duration_ms",
        "definition",
    )

    @admin.display(description="Calls")
    def call_results(self, run: OrchestrationRun) -> SafeString:
        """One row per call: status, HTTP status, attempts, duration and error."""
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    call_id,
                    record.get("status"),
                    record.get("status_code") or "",
                    record.get("attempts"),
                    record.get("duration_ms"),
                    record.get("error") or "",
                )
                for call_id, record in (run.calls or {}).items()
            ),
        )
        return format_html(
            "<table><tr><th>call</th><th>status</th><th>HTTP</th><th>attempts</th><th>ms</th>"
            "<th>error</th></tr>{}</table>",
            rows,
        )
