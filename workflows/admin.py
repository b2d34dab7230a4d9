from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from workflows.models import (
    ApiToken,
    AutomationExecution,
    AutomationExecutionStep,
    AutomationWorkflow,
)
from workflows.services.executions import (
    ExecutionConflict,
    execution_cancel,
    execution_create,
    execution_retry,
)
from workflows.services.tokens import api_token_revoke
from workflows.services.workflows import workflow_set_active


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
    # Signing secrets are set through the API (write-only); the admin never renders them.
    exclude = ["webhook_secret", "webhook_secret_previous"]
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

    @admin.action(description="Run now")
    def run_now(self, request: HttpRequest, queryset: QuerySet[AutomationWorkflow]) -> None:
        for workflow in queryset:
            execution, _ = execution_create(workflow=workflow, trigger_type="manual", payload={})
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


class StepInline(admin.TabularInline):
    model = AutomationExecutionStep
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "step_index",
        "step_id",
        "step_type",
        "status",
        "attempts",
        "execution_time_ms",
        "error_message",
        "input",
        "output",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AutomationExecution)
class AutomationExecutionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "workflow",
        "status",
        "trigger_type",
        "steps_completed",
        "steps_total",
        "execution_time_ms",
        "created_at",
    ]
    list_filter = ["status", "trigger_type", "workflow"]
    list_select_related = ["workflow"]
    search_fields = ["id", "workflow__name", "error_message"]
    date_hierarchy = "created_at"
    inlines = [StepInline]
    actions = ["retry", "cancel"]
    readonly_fields = tuple(field.name for field in AutomationExecution._meta.fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Retry from the failed step")
    def retry(self, request: HttpRequest, queryset: QuerySet[AutomationExecution]) -> None:
        self._each(request, queryset, execution_retry, "retried")

    @admin.action(description="Cancel")
    def cancel(self, request: HttpRequest, queryset: QuerySet[AutomationExecution]) -> None:
        self._each(request, queryset, execution_cancel, "cancelled")

    def _each(
        self, request: HttpRequest, queryset: QuerySet[AutomationExecution], service: Any, verb: str
    ) -> None:
        done = 0
        for execution in queryset:
            try:
                service(execution=execution)
                done += 1
            except ExecutionConflict as exc:
                self.message_user(request, str(exc), level=messages.WARNING)
        self.message_user(request, f"{done} executions {verb}.")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "name", "prefix"]
    readonly_fields = ["prefix", "key_digest", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Tokens are created with `manage.py create_api_token`, which shows the plaintext once.
        return False

    @admin.action(description="Revoke")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            api_token_revoke(token=token)
        self.message_user(request, f"Revoked {queryset.count()} tokens.")
