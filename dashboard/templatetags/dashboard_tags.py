"""Formatting for the dashboard's templates: numbers, durations, JSON, status tones, and the
refresh intervals from settings."""

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django import template
from django.conf import settings
from django.utils.dateparse import parse_datetime

from dashboard.approvals import Approval, approval_of
from workflows.selectors import success_rate

register = template.Library()

# Status words → the badge tone that colours them (the word itself is always shown too).
TONES = {
    "ok": (
        "completed", "succeeded", "sent", "ok", "active", "verified", "delivered", "published",
        "approved",
    ),
    "bad": ("failed", "down", "critical", "error", "unverified", "rejected", "fail", "lost"),
    "info": ("running", "queued", "pending", "retrying", "info", "draft", "run"),
    "warn": ("degraded", "warning", "throttled", "cancel requested", "waiting"),
}  # fmt: skip
_TONE_OF = {word: tone for tone, words in TONES.items() for word in words}


@register.simple_tag
def live_refresh_s() -> int:
    return int(settings.DASHBOARD_LIVE_REFRESH_S)


@register.simple_tag
def widget_refresh_s() -> int:
    return int(settings.DASHBOARD_WIDGET_REFRESH_S)


@register.filter
def tone(status: Any) -> str:
    """The badge tone of a status word: ok, bad, info, warn, or muted for anything else."""
    return _TONE_OF.get(str(status).lower(), "muted")


@register.filter
def percent(rate: float | None) -> str:
    """0.9312 → "93.1 %"; None (nothing finished yet) → "—"."""
    return "—" if rate is None else f"{rate * 100:.1f} %"


@register.filter
def duration(ms: float | None) -> str:
    """Milliseconds as "850 ms", "12.3 s" or "4.2 min"; None → "—"."""
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60_000:.1f} min"


@register.filter
def workflow_success_rate(workflow: Any) -> str:
    return percent(success_rate(workflow.success_count, workflow.failure_count))


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


@register.filter
def approval(step: Any) -> Approval | None:
    """An approval step's question and decision (dashboard.approvals); None for other steps."""
    return approval_of(step)


@register.filter
def notification_href(link: str) -> str:
    """Where a notification's link may take the user: a dashboard page by its path (so it
    works whatever host the link was written with), another web page as is, or nowhere ("")
    for anything that is not http(s)."""
    parts = urlsplit(link or "")
    if parts.path.startswith("/dashboard/") and parts.scheme in ("", "http", "https"):
        return urlunsplit(("", "", parts.path, parts.query, parts.fragment))
    return link if parts.scheme in ("http", "https") and parts.netloc else ""


@register.filter
def iso_datetime(value: Any) -> datetime | None:
    """An ISO 8601 text (as attempt histories keep times) as a datetime, for the date filter."""
    return parse_datetime(value) if isinstance(value, str) else None
