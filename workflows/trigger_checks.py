"""Validation of a workflow's trigger and schedule: each trigger kind's keys, cron expressions,
time zones, interval anchors and webhook senders. Part of ``definition_validate``
(definition.py), in the same error shape: problems by field."""

import zoneinfo
from datetime import datetime
from typing import Any

from celery.schedules import crontab

from workflows.models import TriggerType
from workflows.senders.registry import DEFAULT_SENDER, UnknownSender, sender_get

Errors = dict[str, Any]

TRIGGER_KEYS = {
    "type", "filter", "event", "timezone", "interval_s", "start_at", "sender", "events",
    "workflow", "status", "from", "to",
}  # fmt: skip
# The outcomes a workflow trigger may follow.
OUTCOMES = ("completed", "failed", "cancelled")
# The article lifecycle events an article trigger may listen for.
ARTICLE_EVENTS = ("created", "updated", "status_changed", "reverted", "version_created")
STATUS_MAX_CHARS = 32
MAX_INTERVAL_S = 7 * 86400
MAX_EVENTS = 100
EVENT_MAX_CHARS = 200


def cron_parse(expression: str) -> crontab:
    """Parse a five-field cron expression; raises ValueError with a readable message."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            "A schedule is a five-field cron expression: minute hour day-of-month month "
            f"day-of-week (got {len(fields)} fields)."
        )
    minute, hour, day_of_month, month, day_of_week = fields
    try:
        schedule = crontab(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month,
            day_of_week=day_of_week,
        )
    except Exception as exc:  # celery raises several parser error types
        raise ValueError(f"Invalid cron expression: {exc}") from None
    return schedule


def start_at_parse(value: Any) -> datetime:
    """An interval trigger's ``start_at``: an ISO 8601 date and time with a UTC offset.
    Raises ValueError with a readable message (a time without an offset is refused rather than
    guessed: its meaning would depend on the server's zone and on DST)."""
    example = "e.g. 2026-01-01T09:00:00Z or 2026-01-01T09:00:00+01:00"
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError(f"Must be an ISO 8601 date and time, {example}.")
    if moment.utcoffset() is None:
        raise ValueError(f"Must give a UTC offset ('Z' or ±hh:mm), {example}.")
    return moment


def _start_at_errors(trigger: dict[str, Any]) -> list[str]:
    if trigger.get("start_at") is None:  # absent or null: anchored when the trigger is saved
        return []
    if trigger.get("type") != TriggerType.SCHEDULE or trigger.get("interval_s") is None:
        return ["Only interval schedules (trigger.interval_s) take 'start_at'."]
    try:
        start_at_parse(trigger["start_at"])
    except ValueError as exc:
        return [str(exc)]
    return []


def trigger_errors(trigger: Any, schedule: Any) -> Errors:
    if not isinstance(trigger, dict):
        return {"trigger": ["Must be an object with a 'type'."]}
    errors: dict[str, list[str]] = {}
    kind = trigger.get("type")
    if kind not in TriggerType.values:
        errors["type"] = [f"Unknown trigger type {kind!r}. Known: {', '.join(TriggerType.values)}."]
    unknown = sorted(set(trigger) - TRIGGER_KEYS)
    if unknown:
        errors["trigger"] = [f"Unknown keys: {', '.join(unknown)}."]
    if kind == TriggerType.EVENT and not (
        isinstance(trigger.get("event"), str) and trigger["event"]
    ):
        errors["event"] = ["An event trigger needs the event name in 'event'."]
    errors.update(_webhook_errors(trigger, kind))
    errors.update(_outcome_errors(trigger, kind))
    errors.update(_article_errors(trigger, kind))
    if "filter" in trigger and not isinstance(trigger["filter"], dict):
        errors["filter"] = ["Must be an object of article field: value."]
    interval = trigger.get("interval_s")
    if interval is not None and (
        not isinstance(interval, int)
        or isinstance(interval, bool)
        or not 1 <= interval <= MAX_INTERVAL_S
    ):
        errors["interval_s"] = [f"Must be a whole number of seconds from 1 to {MAX_INTERVAL_S}."]
    start_at_problems = _start_at_errors(trigger)
    if start_at_problems:
        errors["start_at"] = start_at_problems
    timezone = trigger.get("timezone")
    if timezone is not None:
        try:
            zoneinfo.ZoneInfo(str(timezone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors["timezone"] = [f"Unknown time zone {timezone!r}."]
    result: Errors = {"trigger": errors} if errors else {}
    if kind == TriggerType.SCHEDULE and not schedule and interval is None:
        result["schedule"] = [
            "A schedule trigger needs a cron expression in 'schedule' (or trigger.interval_s)."
        ]
    if kind == TriggerType.SCHEDULE and schedule and interval is not None:
        result["schedule"] = ["Give either a cron expression or trigger.interval_s, not both."]
    return result


def _webhook_errors(trigger: dict[str, Any], kind: Any) -> dict[str, list[str]]:
    """``sender``, ``events`` and (as the event name a sender does not give) ``event``."""
    errors: dict[str, list[str]] = {}
    webhook = kind == TriggerType.WEBHOOK
    if "sender" in trigger and not webhook:
        errors["sender"] = ["Only webhook triggers take 'sender'."]
    if "events" in trigger and kind not in (TriggerType.WEBHOOK, TriggerType.ARTICLE):
        errors["events"] = ["Only webhook and article triggers take 'events'."]
    if webhook and "sender" in trigger:
        try:
            sender_get(str(trigger["sender"]))
        except UnknownSender as exc:
            errors["sender"] = [str(exc)]
    events = trigger.get("events")
    if webhook and "events" in trigger and not _event_list(events):
        errors["events"] = [
            f"Must be a list of 1 to {MAX_EVENTS} event names (strings of at most "
            f'{EVENT_MAX_CHARS} characters), e.g. ["push", "issues"].'
        ]
    event = trigger.get("event")
    if webhook and "event" in trigger and not (isinstance(event, str) and event):
        errors["event"] = ["Must be the event name to use when the sender does not give one."]
    return errors


def _article_errors(trigger: dict[str, Any], kind: Any) -> dict[str, list[str]]:
    """An article trigger: ``events`` (which lifecycle events start it), ``from`` / ``to`` (a
    status_changed's statuses, optional) and ``filter`` (as publish's)."""
    errors: dict[str, list[str]] = {}
    article = kind == TriggerType.ARTICLE
    for key in ("from", "to"):
        if key in trigger and not article:
            errors[key] = [f"Only article triggers take '{key}'."]
        elif key in trigger and not (
            isinstance(trigger[key], str) and 0 < len(trigger[key]) <= STATUS_MAX_CHARS
        ):
            errors[key] = ["Must be an article status, e.g. draft, published, archived."]
    if not article:
        return errors
    events = trigger.get("events")
    if not (isinstance(events, list) and events and set(events) <= set(ARTICLE_EVENTS)):
        errors["events"] = [f"A non-empty list of: {', '.join(ARTICLE_EVENTS)}."]
    elif ("from" in trigger or "to" in trigger) and "status_changed" not in events:
        errors["events"] = ["'from' and 'to' go with the status_changed event."]
    return errors


def _outcome_errors(trigger: dict[str, Any], kind: Any) -> dict[str, list[str]]:
    """A workflow trigger: ``workflow`` (the id whose runs it follows) and ``status`` (the
    outcomes that start it; absent: any)."""
    errors: dict[str, list[str]] = {}
    following = kind == TriggerType.WORKFLOW
    for key in ("workflow", "status"):
        if key in trigger and not following:
            errors[key] = [f"Only workflow triggers take '{key}'."]
    if not following:
        return errors
    workflow = trigger.get("workflow")
    if not isinstance(workflow, int) or isinstance(workflow, bool) or workflow < 1:
        errors["workflow"] = ["The id of the workflow whose runs start this one (a number)."]
    status = trigger.get("status")
    if "status" in trigger and not (
        isinstance(status, list) and status and set(status) <= set(OUTCOMES)
    ):
        errors["status"] = [f"A non-empty list of: {', '.join(OUTCOMES)}."]
    return errors


def _event_list(events: Any) -> bool:
    return (
        isinstance(events, list)
        and 1 <= len(events) <= MAX_EVENTS
        and all(isinstance(name, str) and 0 < len(name) <= EVENT_MAX_CHARS for name in events)
    )


def webhook_secret_errors(trigger: Any) -> Errors:
    """A sender that verifies every delivery cannot work without the secret it verifies with."""
    if not isinstance(trigger, dict) or trigger.get("type") != TriggerType.WEBHOOK:
        return {}
    try:
        sender = sender_get(str(trigger.get("sender", DEFAULT_SENDER)))
    except UnknownSender:
        return {}
    if not sender.needs_secret:
        return {}
    return {
        "webhook_secret": [
            f"The {sender.name} sender verifies every delivery: set webhook_secret to the "
            f"secret configured in {sender.label} (trigger.sender is {sender.name!r})."
        ]
    }


def schedule_errors(schedule: Any) -> Errors:
    if schedule in (None, ""):
        return {}
    if not isinstance(schedule, str):
        return {"schedule": ["Must be a cron expression string."]}
    try:
        cron_parse(schedule)
    except ValueError as exc:
        return {"schedule": [str(exc)]}
    return {}
