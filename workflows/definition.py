"""Validation of a workflow definition: its trigger, schedule and actions.

Every problem is reported against the field it concerns, in DRF's error shape, so the API and the
dashboard can show it beside the field: ``{"actions": {"1": {"params": {"url": ["..."]}}}}``.
"""

import re
import zoneinfo
from typing import Any

from celery.schedules import crontab
from rest_framework import serializers

from workflows.actions.registry import UnknownActionType, action_get
from workflows.models import TriggerType
from workflows.templating import TemplateError, condition_check, params_check

MAX_ACTIONS = 100
ACTION_ID = re.compile(r"^[A-Za-z0-9_]{1,64}$")
ACTION_KEYS = {
    "id",
    "type",
    "name",
    "params",
    "condition",
    "retry",
    "timeout_s",
    "continue_on_failure",
}
TRIGGER_KEYS = {"type", "filter", "event", "timezone", "interval_s"}
MAX_INTERVAL_S = 7 * 86400

Errors = dict[str, Any]


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


def _trigger_errors(trigger: Any, schedule: Any) -> Errors:
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
    if "filter" in trigger and not isinstance(trigger["filter"], dict):
        errors["filter"] = ["Must be an object of article field: value."]
    interval = trigger.get("interval_s")
    if interval is not None and (
        not isinstance(interval, int)
        or isinstance(interval, bool)
        or not 1 <= interval <= MAX_INTERVAL_S
    ):
        errors["interval_s"] = [f"Must be a whole number of seconds from 1 to {MAX_INTERVAL_S}."]
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


def _schedule_errors(schedule: Any) -> Errors:
    if schedule in (None, ""):
        return {}
    if not isinstance(schedule, str):
        return {"schedule": ["Must be a cron expression string."]}
    try:
        cron_parse(schedule)
    except ValueError as exc:
        return {"schedule": [str(exc)]}
    return {}


def _retry_errors(retry: Any) -> list[str]:
    if not isinstance(retry, dict):
        return ["Must be an object."]
    problems = []
    attempts = retry.get("max_attempts", 1)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 20:
        problems.append("max_attempts must be an integer from 1 to 20.")
    if retry.get("backoff", "exponential") not in ("fixed", "exponential"):
        problems.append("backoff must be 'fixed' or 'exponential'.")
    for key in ("delay_s", "max_delay_s"):
        value = retry.get(key, 0)
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 86400:
            problems.append(f"{key} must be a number of seconds from 0 to 86400.")
    unknown = sorted(set(retry) - {"max_attempts", "backoff", "delay_s", "max_delay_s"})
    if unknown:
        problems.append(f"Unknown keys: {', '.join(unknown)}.")
    return problems


def _action_errors(action: Any) -> Errors:
    if not isinstance(action, dict):
        return {"non_field_errors": ["Each action must be an object."]}
    errors: Errors = {}
    action_id = action.get("id")
    if not isinstance(action_id, str) or not ACTION_ID.match(action_id):
        errors["id"] = ["Required: 1-64 letters, digits or underscores."]
    unknown = sorted(set(action) - ACTION_KEYS)
    if unknown:
        errors["non_field_errors"] = [f"Unknown keys: {', '.join(unknown)}."]
    try:
        executor = action_get(str(action.get("type")))
    except UnknownActionType as exc:
        errors["type"] = [str(exc)]
    else:
        params = action.get("params", {})
        try:
            executor.validate(params)
        except serializers.ValidationError as exc:
            errors["params"] = exc.detail
        else:
            template_errors = params_check(params)
            if template_errors:
                errors["params"] = {path: [message] for path, message in template_errors.items()}
    condition = action.get("condition")
    if condition not in (None, ""):
        if not isinstance(condition, str):
            errors["condition"] = ["Must be an expression string."]
        else:
            try:
                condition_check(condition)
            except TemplateError as exc:
                errors["condition"] = [str(exc)]
    if "retry" in action:
        problems = _retry_errors(action["retry"])
        if problems:
            errors["retry"] = problems
    timeout = action.get("timeout_s")
    if timeout is not None and (
        not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 0 < timeout <= 3600
    ):
        errors["timeout_s"] = ["Must be a number of seconds above 0 and at most 3600."]
    if not isinstance(action.get("continue_on_failure", False), bool):
        errors["continue_on_failure"] = ["Must be true or false."]
    if not isinstance(action.get("name", ""), str):
        errors["name"] = ["Must be a string."]
    return errors


def _actions_errors(actions: Any) -> Errors:
    if not isinstance(actions, list):
        return {"actions": ["Must be a list of actions."]}
    if len(actions) > MAX_ACTIONS:
        return {"actions": [f"At most {MAX_ACTIONS} actions (got {len(actions)})."]}
    per_action: dict[str, Errors] = {}
    seen: set[str] = set()
    for index, action in enumerate(actions):
        errors = _action_errors(action)
        action_id = action.get("id") if isinstance(action, dict) else None
        if isinstance(action_id, str) and action_id in seen:
            errors.setdefault("id", []).append(f"Duplicate action id '{action_id}'.")
        if isinstance(action_id, str):
            seen.add(action_id)
        if errors:
            per_action[str(index)] = errors
    return {"actions": per_action} if per_action else {}


def definition_validate(*, trigger: Any, actions: Any, schedule: Any) -> None:
    """Raise serializers.ValidationError with every problem of the definition, by field."""
    errors: Errors = {}
    errors.update(_schedule_errors(schedule))
    for key, value in _trigger_errors(trigger, schedule).items():
        errors.setdefault(key, value)
    errors.update(_actions_errors(actions))
    if errors:
        raise serializers.ValidationError(errors)
