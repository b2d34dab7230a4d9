"""The audit trail in the admin: read only — an entry is never edited or deleted; and the mixin
that puts what other admin pages create, edit and delete into it."""

from typing import Any, ClassVar

from django.contrib import admin
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import ReadOnlyAdminMixin
from workflows.models import AuditEntry
from workflows.services.audit import actor_of_request, audit_record


class AuditedAdminMixin(admin.ModelAdmin):
    """Creations, edits (with the names of the fields changed) and deletions made on this admin
    page go into the audit trail as ``audit_object_type``, by the signed-in user."""

    audit_object_type: ClassVar[str]

    def _audit(
        self, request: HttpRequest, action: str, obj: models.Model, changed: list[str]
    ) -> None:
        detail: dict[str, Any] = {"name": str(obj)}
        if changed:
            detail["changed"] = changed
        audit_record(
            actor=actor_of_request(request),
            action=action,
            object_type=self.audit_object_type,
            object_id=obj.pk,
            detail=detail,
        )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if not change:
                self._audit(request, "created", obj, [])
            elif form.changed_data:
                self._audit(request, "edited", obj, list(form.changed_data))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            self._audit(request, "deleted", obj, [])
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with transaction.atomic():
            for obj in queryset:
                self._audit(request, "deleted", obj, [])
            super().delete_queryset(request, queryset)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "actor_name", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_name", "object_id"]
    date_hierarchy = "at"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
