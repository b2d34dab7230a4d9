"""Writes on in-app notifications."""

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from alerts.models import Notification

TITLE_MAX_CHARS = 300
LINK_MAX_CHARS = 500


def notifications_create(
    *, users: Iterable[Any], title: str, body: str, severity: str, link: str = ""
) -> int:
    """Create one unread notification per user; returns how many."""
    rows = [
        Notification(
            user=user,
            title=title[:TITLE_MAX_CHARS],
            body=body,
            severity=severity,
            link=link[:LINK_MAX_CHARS],
        )
        for user in users
    ]
    with transaction.atomic():
        Notification.objects.bulk_create(rows)
    return len(rows)


def notification_mark_read(*, notification: Notification) -> Notification:
    """Mark the notification read (idempotent)."""
    if not notification.is_read:
        Notification.objects.filter(pk=notification.pk).update(is_read=True)
        notification.is_read = True
    return notification
