"""``in_app``: a Notification for each recipient (usernames; none named: every active staff user),
shown in the dashboard and by ``GET notifications`` until read."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import transaction

from alerts.channels.base import Channel, Message, SendResult, Target
from alerts.models import Notification

if TYPE_CHECKING:
    from integrations.models import IntegrationConnection

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


class InAppChannel(Channel):
    name = "in_app"
    uses_recipients = True

    def recipients_errors(
        self, recipients: Sequence[str], connection: IntegrationConnection | None
    ) -> dict[str, list[str]]:
        known = set(
            get_user_model()
            .objects.filter(username__in=recipients)
            .values_list("username", flat=True)
        )
        unknown = [name for name in recipients if name not in known]
        if unknown:
            return {"recipients": [f"Unknown usernames: {', '.join(unknown)}."]}
        return {}

    def send(self, target: Target, message: Message) -> SendResult:
        users = get_user_model().objects.filter(is_active=True)
        if target.recipients:
            users = users.filter(username__in=target.recipients)
        else:
            users = users.filter(is_staff=True)
        count = notifications_create(
            users=users,
            title=message.title or message.text[:120],
            body=message.text,
            severity=message.severity,
            link=message.url,
        )
        if not count:
            return SendResult(False, None, "no active user to notify")
        return SendResult(True, None, f"notified {count} user(s)")
