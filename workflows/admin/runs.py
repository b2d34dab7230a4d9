"""Admin pages of what runs: executions and their steps, jobs, API tokens, the effect ledger,
the broker watermarks and the events outbox."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import ReadOnlyAdminMixin
from workflows.models import (
    ApiToken,
    AutomationExecution,
    AutomationExecutionStep,
    BrokerWatermark,
    Job,
    KernelEvent,
    StepEffect,
)
from workflows.services.audit import actor_of_request
from workflows.services.executions import (
    ExecutionConflict,
    execution_cancel,
    execution_retry,
)
from workflows.services.jobs import job_cancel
from workflows.services.tokens import api_token_revoke


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


@admin.register(AutomationExecutionStep)
class AutomationExecutionStepAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Steps across executions (each execution's page shows its own inline): read-only."""

    list_display = [
        "execution",
        "step_index",
        "step_id",
        "step_type",
        "status",
        "attempts",
        "execution_time_ms",
        "completed_at",
    ]
    list_filter = ["status", "step_type"]
    list_select_related = ["execution"]
    search_fields = ["step_id", "error_message", "execution__workflow__name"]
    readonly_fields = tuple(field.name for field in AutomationExecutionStep._meta.fields)


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
                service(execution=execution, actor=actor_of_request(request))
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


@admin.register(StepEffect)
class StepEffectAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The effect ledger, read-only: what each side-effecting step already did."""

    list_display = ["key", "step_id", "execution", "created_at"]
    list_select_related = ["execution"]
    search_fields = ["key", "step_id"]
    date_hierarchy = "created_at"


@admin.register(BrokerWatermark)
class BrokerWatermarkAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What the sweeps saw in the broker, read-only: how far messages had left the queues."""

    list_display = ["observed_at", "watermark"]
    date_hierarchy = "observed_at"


@admin.register(KernelEvent)
class KernelEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The kernel's event outbox, read-only: what subscribers heard, and what they failed on."""

    list_display = ["id", "name", "created_at", "processed_at", "attempts", "last_error"]
    list_filter = ["name", ("processed_at", admin.EmptyFieldListFilter)]
    date_hierarchy = "created_at"


@admin.register(Job)
class JobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Bulk replays and backfills, read-only, with Cancel (the dashboard shows their progress)."""

    list_display = ["id", "kind", "status", "workflow", "position", "total", "started", "refused"]
    list_filter = ["kind", "status"]
    list_select_related = ["workflow"]
    date_hierarchy = "created_at"
    exclude = ["items"]
    actions = ["cancel"]

    @admin.action(description="Cancel")
    def cancel(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        done = 0
        for job in queryset:
            try:
                job_cancel(job=job, actor=actor_of_request(request))
                done += 1
            except ExecutionConflict as exc:
                self.message_user(request, str(exc), level=messages.WARNING)
        self.message_user(request, f"{done} jobs asked to stop.")
