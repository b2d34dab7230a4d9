"""Reads on alerts, deliveries and notifications."""

from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet

from alerts.models import (
    EVENT_SEVERITY,
    SEVERITY_RANK,
    AlertDelivery,
    AutomationAlert,
    Notification,
)


def alert_list() -> QuerySet[AutomationAlert]:
    # The connection is not joined: listing alerts needs its id only, not its decrypted secrets.
    return AutomationAlert.objects.all()


def alerts_listening(
    *, workflow_id: int | None, events: Iterable[str]
) -> list[tuple[AutomationAlert, str]]:
    """The active alerts that hear each of ``events`` (global ones, and those of the workflow),
    as (alert, event) pairs: the alert lists the event and the event is at least as severe as
    the alert's minimum severity."""
    events = list(events)
    scope = Q(workflow__isnull=True)
    if workflow_id is not None:
        scope |= Q(workflow_id=workflow_id)
    # JSON list membership is checked here: SQLite has no JSON "contains" lookup.
    # Connections are not joined: their secrets are decrypted only where they are needed.
    alerts = AutomationAlert.objects.filter(scope, is_active=True)
    return [
        (alert, event)
        for alert in alerts
        for event in events
        if event in alert.events
        and SEVERITY_RANK[EVENT_SEVERITY[event]] >= SEVERITY_RANK[alert.severity]
    ]


def delivery_list(*, alert: AutomationAlert) -> QuerySet[AlertDelivery]:
    return AlertDelivery.objects.filter(alert=alert).order_by("-id")


def notification_list(*, user: Any, unread: bool = False) -> QuerySet[Notification]:
    """The user's own notifications, newest first."""
    notifications = Notification.objects.filter(user=user)
    if unread:
        notifications = notifications.filter(is_read=False)
    return notifications.order_by("-id")


def notification_unread_count(*, user: Any) -> int:
    return Notification.objects.filter(user=user, is_read=False).count()
