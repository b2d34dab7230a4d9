"""Connections in the admin. Secrets are write-only here too: the form has empty password inputs
for new values and never renders the stored ones; the page shows only which keys are set."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework.exceptions import ValidationError

from core.admin import ReadOnlyAdminMixin
from core.parsing import json_loads
from integrations.models import ConnectionRateWindow, IntegrationConnection
from integrations.services import (
    connection_create,
    connection_delete,
    connection_update,
    connection_validate,
    connection_verify,
    rate_limit_normalised,
)

KEEP = "Leave empty to keep the stored value."
# Where each error path of the platform's validation is shown in the form.
ERROR_FIELDS = {"credentials": "new_credentials", "webhook_url": "new_webhook_url"}


class ConnectionForm(forms.ModelForm):
    new_credentials = forms.CharField(
        label="Credentials",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text='A JSON object, e.g. {"token": "…"}; replaces all stored credentials. ' + KEEP,
    )
    new_webhook_url = forms.CharField(
        label="Webhook URL",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=KEEP,
    )

    class Meta:
        model = IntegrationConnection
        fields = ["name", "platform", "connection_type", "config", "is_active", "rate_limit"]

    def clean_new_credentials(self) -> dict[str, Any] | None:
        raw = self.cleaned_data.get("new_credentials")
        if not raw:
            return None
        try:
            value = json_loads(raw)
        except ValueError:
            raise forms.ValidationError("Must be a JSON object.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("Must be a JSON object.")
        return value

    def clean_rate_limit(self) -> str:
        try:
            return rate_limit_normalised(self.cleaned_data.get("rate_limit"))
        except ValidationError as exc:
            raise forms.ValidationError(_flatten(exc.detail)[0][1]) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        instance = self.instance
        stored = instance.pk is not None
        credentials = data.get("new_credentials")
        try:
            connection_validate(
                platform=data.get("platform", ""),
                credentials=credentials if credentials is not None else instance.credentials,
                webhook_url=data.get("new_webhook_url") or (instance.webhook_url if stored else ""),
                config=data.get("config") or {},
            )
        except ValidationError as exc:
            for path, message in _flatten(exc.detail):
                field = ERROR_FIELDS.get(path.split(".")[0], path.split(".")[0])
                self.add_error(field if field in self.fields else None, f"{path}: {message}")
        return data


@admin.register(IntegrationConnection)
class IntegrationConnectionAdmin(admin.ModelAdmin):
    form = ConnectionForm
    list_display = [
        "name", "platform", "is_active", "rate_limit", "is_verified", "last_verified_at",
    ]  # fmt: skip
    list_filter = ["platform", "is_active", "is_verified"]
    search_fields = ["name", "connection_type"]
    readonly_fields = [
        "stored_secrets",
        "is_verified",
        "last_verified_at",
        "last_error",
        "created_at",
        "updated_at",
    ]
    actions = ["verify"]

    @admin.display(description="Stored secrets")
    def stored_secrets(self, connection: IntegrationConnection) -> str:
        keys = ", ".join(sorted(connection.credentials or {})) or "none"
        webhook = "set" if connection.webhook_url else "not set"
        return f"credentials: {keys}; webhook URL: {webhook}"

    def save_model(
        self, request: HttpRequest, obj: IntegrationConnection, form: Any, change: bool
    ) -> None:
        data = {key: form.cleaned_data[key] for key in ConnectionForm.Meta.fields}
        if form.cleaned_data.get("new_credentials") is not None:
            data["credentials"] = form.cleaned_data["new_credentials"]
        if form.cleaned_data.get("new_webhook_url"):
            data["webhook_url"] = form.cleaned_data["new_webhook_url"]
        if change:
            # obj already carries the form's values; the service compares against the stored row.
            stored = IntegrationConnection.objects.get(pk=obj.pk)
            connection_update(connection=stored, data=data, by=request)
        else:
            obj.pk = connection_create(**data, by=request).pk

    def delete_model(self, request: HttpRequest, obj: IntegrationConnection) -> None:
        connection_delete(connection=obj, by=request)

    def delete_queryset(
        self, request: HttpRequest, queryset: QuerySet[IntegrationConnection]
    ) -> None:
        for connection in queryset:
            connection_delete(connection=connection, by=request)

    @admin.action(description="Verify")
    def verify(self, request: HttpRequest, queryset: QuerySet[IntegrationConnection]) -> None:
        for connection in queryset:
            outcome = connection_verify(connection=connection)
            level = messages.SUCCESS if outcome["is_verified"] else messages.ERROR
            state = "verified" if outcome["is_verified"] else "not verified"
            text = f"{connection.name}: {state}: {outcome['detail']} ({outcome['latency_ms']} ms)"
            self.message_user(request, text, level)


@admin.register(ConnectionRateWindow)
class ConnectionRateWindowAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The rate limiter's bookkeeping, read-only: which connection is throttled until when."""

    list_display = ["connection", "blocked_until"]
    list_select_related = ["connection"]
    search_fields = ["connection__name"]


def _flatten(detail: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(detail, dict):
        return [
            pair
            for key, value in detail.items()
            for pair in _flatten(value, f"{prefix}.{key}" if prefix else str(key))
        ]
    if isinstance(detail, list):
        return [pair for item in detail for pair in _flatten(item, prefix)]
    return [(prefix or "non_field_errors", str(detail))]
