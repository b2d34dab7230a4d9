from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from alerts.models import AlertDelivery, AutomationAlert, Notification
from alerts.services.alerts import alert_test
from core.admin import ReadOnlyAdminMixin
from workflows.admin.audit import AuditedAdminMixin

RECENT_DELIVERIES = 20


class RecentDeliveriesFormSet(BaseInlineFormSet):
    def get_queryset(self) -> QuerySet[AlertDelivery]:
        return super().get_queryset().order_by("-id")[:RECENT_DELIVERIES]


class RecentDeliveryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = AlertDelivery
    fk_name = "alert"
    formset = RecentDeliveriesFormSet
    verbose_name_plural = f"recent deliveries (last {RECENT_DELIVERIES})"
    extra = 0
    can_delete = False
    show_change_link = True
    fields = readonly_fields = (
        "created_at",
        "event",
        "status",
        "folded_count",
        "attempts",
        "response_code",
        "error",
        "sent_at",
    )


@admin.register(AutomationAlert)
class AutomationAlertAdmin(AuditedAdminMixin):
    audit_object_type = "alert"
    list_display = [
        "name",
        "workflow",
        "channel",
        "severity",
        "is_active",
        "throttle_s",
        "trigger_count",
        "success_count",
        "failure_count",
        "last_triggered_at",
    ]
    list_filter = ["is_active", "channel", "alert_type", "severity"]
    search_fields = ["name", "workflow__name"]
    list_select_related = ["workflow"]
    raw_id_fields = ["workflow", "connection"]
    readonly_fields = [
        "trigger_count",
        "success_count",
        "failure_count",
        "last_triggered_at",
        "created_at",
        "updated_at",
    ]
    inlines = [RecentDeliveryInline]
    actions = ["send_test"]

    @admin.action(description="Send test")
    def send_test(self, request: HttpRequest, queryset: QuerySet[AutomationAlert]) -> None:
        for alert in queryset:
            outcome = alert_test(alert=alert, request=request)
            level = messages.SUCCESS if outcome["delivered"] else messages.ERROR
            verdict = "delivered" if outcome["delivered"] else "not delivered"
            self.message_user(request, f"{alert.name}: {verdict} ({outcome['detail']})", level)


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "alert",
        "event",
        "severity",
        "status",
        "folded_count",
        "attempts",
        "response_code",
        "created_at",
        "sent_at",
    ]
    list_filter = ["status", "event", "severity"]
    search_fields = ["alert__name", "error"]
    list_select_related = ["alert"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in AlertDelivery._meta.fields]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "user", "severity", "is_read", "created_at"]
    list_filter = ["is_read", "severity"]
    search_fields = ["title", "body", "user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
