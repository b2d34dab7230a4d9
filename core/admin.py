"""Admin pages for rows the product writes and people only read."""

from typing import Any

from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """Shows rows, never adds or edits them (a ModelAdmin or an inline; deleting stays as the
    page decides)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
