"""The trigger as a form: its type, then the fields of that type (shown by the stylesheet as the
type is picked); read back into the trigger object and the schedule. A cron expression is
described in words with its next runs (``cron_summary``)."""

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cron_descriptor import ExpressionDescriptor, Options
from django.http import QueryDict

from dashboard.editor.params import ABSENT, Field, field_build, field_read, unread_problem
from workflows.actions.schema import Schema
from workflows.models import TriggerType
from workflows.schedules import schedule_next_runs
from workflows.senders.registry import DEFAULT_SENDER, SENDERS

NEXT_RUNS = 5
# Each field of the trigger object: its schema, and the trigger types that take it.
TRIGGER_FIELDS: dict[str, tuple[Schema, tuple[str, ...]]] = {
    "timezone": (
        {
            "type": "string",
            "enum": sorted(zoneinfo.available_timezones()),
            "description": "The time zone the cron expression is read in.",
            "default": "UTC",
        },
        (TriggerType.SCHEDULE,),
    ),
    "interval_s": (
        {
            "type": "integer",
            "description": "Instead of a cron expression: run every this many seconds.",
        },
        (TriggerType.SCHEDULE,),
    ),
    "event": (
        {
            "type": "string",
            "maxLength": 200,
            "description": "The event name (for a webhook: the one to use when the sender "
            "gives none).",
        },
        (TriggerType.EVENT, TriggerType.WEBHOOK),
    ),
    "sender": (
        {
            "type": "string",
            "enum": list(SENDERS),
            "default": DEFAULT_SENDER,
            "description": "Who sends the webhook: says how deliveries are signed and named.",
        },
        (TriggerType.WEBHOOK,),
    ),
    "events": (
        {
            "type": "array",
            "items": {"type": "string"},
            "description": 'The only events that start a run, e.g. ["push"] (empty: all).',
        },
        (TriggerType.WEBHOOK,),
    ),
    "filter": (
        {"type": "object", "description": "Article field: value pairs the article must match."},
        (TriggerType.EVENT, TriggerType.PUBLISH),
    ),
}
LABELS = {
    "timezone": "Time zone",
    "interval_s": "Interval (seconds)",
    "event": "Event",
    "sender": "Sender",
    "events": "Events",
    "filter": "Article filter",
}
SCHEDULE_SCHEMA: Schema = {
    "type": "string",
    "format": "cron",
    "description": "Five fields: minute hour day-of-month month day-of-week (e.g. 0 9 * * 1-5).",
}


@dataclass
class TriggerForm:
    type: Field
    schedule: Field
    fields: list[tuple[Field, tuple[str, ...]]]


def trigger_build(trigger: Any, schedule: str, errors: Mapping[str, Any]) -> TriggerForm:
    """The trigger's form showing ``trigger`` and ``schedule``; ``errors`` are the server's
    errors of the trigger object and of the schedule (``{"trigger": {...}, "schedule": [...]}``)."""
    trigger = trigger if isinstance(trigger, dict) else {}
    own = errors.get("trigger", {})
    own = own if isinstance(own, dict) else {"type": own}
    kind = field_build(
        name="type",
        html_name="trigger-type",
        schema={"type": "string", "enum": list(TriggerType.values)},
        value=trigger.get("type", TriggerType.MANUAL),
        required=True,
    )
    kind.choices = [(value, str(label)) for value, label in TriggerType.choices]
    kind.blank = False
    kind.label = "Trigger type"
    kind.errors = [str(item) for item in own.get("type", []) + own.get("trigger", [])]
    cron = field_build(
        name="schedule", html_name="schedule", schema=SCHEDULE_SCHEMA, value=schedule or ABSENT
    )
    cron.errors = [str(item) for item in errors.get("schedule", [])]
    fields = []
    for name, (schema, types) in TRIGGER_FIELDS.items():
        item = field_build(
            name=name, html_name=f"trigger-{name}", schema=schema, value=trigger.get(name, ABSENT)
        )
        item.errors = [str(message) for message in own.get(name, [])]
        item.label = LABELS[name]
        fields.append((item, types))
    return TriggerForm(kind, cron, fields)


def trigger_read(post: QueryDict) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The trigger object and the schedule the posted fields describe (only the fields of the
    type picked), and the fields that could not be read, in the server's error shape."""
    kind = post.get("trigger-type") or TriggerType.MANUAL
    trigger: dict[str, Any] = {"type": kind}
    problems: dict[str, Any] = {}
    for name, (_, types) in TRIGGER_FIELDS.items():
        if kind not in types:
            continue
        value = field_read(post, f"trigger-{name}")
        problem = unread_problem(value)
        if problem:
            problems.setdefault("trigger", {})[name] = [problem]
        if value is not ABSENT:
            trigger[name] = value
    schedule = post.get("schedule", "").strip() if kind == TriggerType.SCHEDULE else ""
    return trigger, schedule, problems


def cron_summary(*, schedule: str, timezone: str, now: datetime) -> dict[str, Any]:
    """``{"description", "runs", "timezone"}`` for a valid expression; ``{"error"}`` otherwise;
    empty for no expression."""
    if not schedule.strip():
        return {}
    zone = timezone or "UTC"
    try:
        runs = schedule_next_runs(schedule=schedule, timezone=zone, after=now, count=NEXT_RUNS)
    except ValueError as exc:
        return {"error": str(exc)}
    except zoneinfo.ZoneInfoNotFoundError:
        return {"error": f"Unknown time zone {zone!r}."}
    options = Options()
    options.use_24hour_time_format = True
    description = ExpressionDescriptor(schedule, options).get_description()
    return {"description": description, "runs": runs, "timezone": zone}
