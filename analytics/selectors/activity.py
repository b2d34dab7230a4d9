"""One time-ordered feed of what happened: executions started and finished, alerts sent, content
versions created, connections verified.

Newest first, ordered by ``(at, kind, id)`` descending and paginated by keyset: the cursor is the
last item's key, so page 1,000 costs what page 1 costs. Each kind reads at most ``limit + 1`` rows
through an index on its timestamp and the pages are merged in memory: one query per kind, whatever
the page or the table sizes.
"""

import base64
import binascii
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from alerts.models import AlertDelivery, DeliveryStatus
from integrations.models import IntegrationConnection
from versioning.models import ContentVersion
from workflows.models import FINISHED_STATUSES, AutomationExecution

API = "/api/workflow-orchestration"
LIMIT_MAX = 200


class CursorInvalid(ValueError):
    """The cursor was not made by this feed (tampered with or truncated)."""


@dataclass(frozen=True)
class Cursor:
    at: datetime
    kind: str
    id: int

    def encode(self) -> str:
        raw = f"{self.at.isoformat()}|{self.kind}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> "Cursor":
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            at_text, kind, id_text = raw.split("|")
            at = parse_datetime(at_text)
            if at is None or at.tzinfo is None or kind not in KINDS:
                raise ValueError(raw)
            return cls(at=at, kind=kind, id=int(id_text))
        except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
            raise CursorInvalid("Invalid cursor.") from exc


def _after(field: str, kind: str, cursor: Cursor | None) -> Q:
    """Rows of ``kind`` that come after ``cursor`` in (at, kind, id) descending order."""
    if cursor is None:
        return Q(**{f"{field}__isnull": False})
    if kind < cursor.kind:
        return Q(**{f"{field}__lte": cursor.at})
    if kind > cursor.kind:
        return Q(**{f"{field}__lt": cursor.at})
    return Q(**{f"{field}__lt": cursor.at}) | Q(**{field: cursor.at, "pk__lt": cursor.id})


def _page(queryset: QuerySet[Any], field: str, kind: str, cursor: Cursor | None, limit: int):
    return queryset.filter(_after(field, kind, cursor)).order_by(f"-{field}", "-pk")[:limit]


def _item(kind: str, at: datetime, object_id: int, title: str, detail: str, link: str):
    return {
        "kind": kind,
        "at": at,
        "title": title,
        "detail": detail,
        "link": link,
        "object_id": object_id,
    }


def _executions() -> QuerySet[AutomationExecution]:
    return AutomationExecution.objects.select_related("workflow").only(
        "id", "status", "trigger_type", "started_at", "completed_at", "execution_time_ms",
        "error_message", "workflow__id", "workflow__name",
    )  # fmt: skip


def _started(cursor: Cursor | None, limit: int) -> Iterable[dict[str, Any]]:
    kind = "execution.started"
    for execution in _page(_executions(), "started_at", kind, cursor, limit):
        yield _item(
            kind, execution.started_at, execution.pk,
            f"Execution #{execution.pk} of '{execution.workflow.name}' started",
            f"Triggered by {execution.trigger_type}.",
            f"{API}/executions/{execution.pk}",
        )  # fmt: skip


def _finished(cursor: Cursor | None, limit: int) -> Iterable[dict[str, Any]]:
    kind = "execution.finished"
    executions = _executions().filter(status__in=FINISHED_STATUSES)
    for execution in _page(executions, "completed_at", kind, cursor, limit):
        took = execution.execution_time_ms
        detail = execution.error_message or (f"Took {took} ms." if took is not None else "")
        yield _item(
            kind, execution.completed_at, execution.pk,
            f"Execution #{execution.pk} of '{execution.workflow.name}' {execution.status}",
            detail, f"{API}/executions/{execution.pk}",
        )  # fmt: skip


def _alerts_sent(cursor: Cursor | None, limit: int) -> Iterable[dict[str, Any]]:
    kind = "alert.sent"
    deliveries = (
        AlertDelivery.objects.filter(status=DeliveryStatus.SENT)
        .select_related("alert")
        .only("id", "event", "severity", "folded_count", "sent_at", "alert__id", "alert__name",
              "alert__channel")
    )  # fmt: skip
    for delivery in _page(deliveries, "sent_at", kind, cursor, limit):
        count = f" ({delivery.folded_count} events)" if delivery.folded_count > 1 else ""
        yield _item(
            kind, delivery.sent_at, delivery.pk,
            f"Alert '{delivery.alert.name}' sent via {delivery.alert.channel}",
            f"{delivery.event}, {delivery.severity}{count}.",
            f"{API}/alerts/{delivery.alert_id}",
        )  # fmt: skip


def _versions(cursor: Cursor | None, limit: int) -> Iterable[dict[str, Any]]:
    kind = "version.created"
    versions = ContentVersion.objects.select_related("article").only(
        "id", "version_number", "change_type", "change_description", "created_at",
        "article__id", "article__title",
    )  # fmt: skip
    for version in _page(versions, "created_at", kind, cursor, limit):
        yield _item(
            kind, version.created_at, version.pk,
            f"'{version.article.title}' version {version.version_number} ({version.change_type})",
            version.change_description,
            f"{API}/versions/{version.article_id}/{version.version_number}",
        )  # fmt: skip


def _verified(cursor: Cursor | None, limit: int) -> Iterable[dict[str, Any]]:
    kind = "connection.verified"
    connections = IntegrationConnection.objects.only(
        "id", "name", "platform", "is_verified", "last_verified_at", "last_error"
    )
    for connection in _page(connections, "last_verified_at", kind, cursor, limit):
        outcome = "verified" if connection.is_verified else "failed verification"
        yield _item(
            kind, connection.last_verified_at, connection.pk,
            f"Connection '{connection.name}' ({connection.platform}) {outcome}",
            connection.last_error, f"{API}/connections/{connection.pk}",
        )  # fmt: skip


Source = Callable[[Cursor | None, int], Iterable[dict[str, Any]]]
KINDS: dict[str, Source] = {
    "execution.started": _started,
    "execution.finished": _finished,
    "alert.sent": _alerts_sent,
    "version.created": _versions,
    "connection.verified": _verified,
}


def _key(item: dict[str, Any]) -> tuple[datetime, str, int]:
    return item["at"], item["kind"], item["object_id"]


def activity_feed(
    *, kinds: Iterable[str] | None = None, cursor: str | None = None, limit: int = 50
) -> dict[str, Any]:
    """``{"results": [{kind, at, title, detail, link, object_id}], "next_cursor"}``, newest first.

    ``kinds`` restricts the feed (unknown kinds raise ValueError); ``cursor`` is a previous
    page's ``next_cursor`` (raises CursorInvalid when it is not one); ``next_cursor`` is None on
    the last page.
    """
    chosen = list(KINDS) if kinds is None else list(dict.fromkeys(kinds))
    unknown = [kind for kind in chosen if kind not in KINDS]
    if unknown:
        raise ValueError(f"Unknown kind {unknown[0]!r}. Known: {', '.join(KINDS)}.")
    limit = max(1, min(limit, LIMIT_MAX))
    after = Cursor.decode(cursor) if cursor else None
    items = [item for kind in chosen for item in KINDS[kind](after, limit + 1)]
    items.sort(key=_key, reverse=True)
    page = items[:limit]
    more = len(items) > limit
    last = page[-1] if page else None
    next_cursor = (
        Cursor(at=last["at"], kind=last["kind"], id=last["object_id"]).encode()
        if more and last
        else None
    )
    return {"results": page, "next_cursor": next_cursor}
