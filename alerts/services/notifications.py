"""Writes on in-app notifications (the in-app channel creates them)."""

from typing import Any

from alerts.models import Notification


def notification_mark_read(*, notification: Notification) -> Notification:
    """Mark the notification read (idempotent)."""
    if not notification.is_read:
        Notification.objects.filter(pk=notification.pk).update(is_read=True)
        notification.is_read = True
    return notification


def notifications_mark_all_read(*, user: Any) -> int:
    """Mark every unread notification of ``user`` read; returns how many were unread."""
    return Notification.objects.filter(user=user, is_read=False).update(is_read=True)
