"""Who may do what (SPEC §10): staff everything; other signed-in users read stats, activity,
their notifications and the widget; anonymous callers only webhook triggers and health."""

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request


class IsStaff(BasePermission):
    message = "Staff only."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)
