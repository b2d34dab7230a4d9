"""Validation of a workflow definition: its actions here, its trigger and schedule in
trigger_checks.py.

Every problem is reported against the field it concerns, in DRF's error shape, so the API and the
dashboard can show it beside the field: ``{"actions": {"1": {"params": {"url": ["..."]}}}}``.
"""

import re
from typing import Any

from rest_framework import serializers

from workflows.actions.registry import UnknownActionType, action_get
from workflows.templating import TemplateError, condition_check, params_check
from workflows.trigger_checks import schedule_errors, trigger_errors, webhook_secret_errors

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
RETRY_MAX_ATTEMPTS = 20
RETRY_MAX_DELAY_S = 86400
STEP_MAX_TIMEOUT_S = 3600
# The keys of an action besides its params, as JSON Schema: the API document and the action
# reference show it; _action_errors below checks the same rules.
ACTION_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "type"],
    "properties": {
        "id": {
            "type": "string",
            "pattern": ACTION_ID.pattern,
            "description": "Unique in the workflow; later steps read the output as steps.<id>.",
        },
        "type": {"type": "string", "description": "The action type."},
        "name": {"type": "string", "description": "A label for people."},
        "params": {"type": "object", "description": "The action's params."},
        "condition": {
            "type": ["string", "null"],
            "description": "A Jinja2 expression; when false the step is skipped.",
        },
        "retry": {
            "type": "object",
            "additionalProperties": False,
            "description": "Retry policy for retryable failures (timeouts, 429, 5xx).",
            "properties": {
                "max_attempts": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": RETRY_MAX_ATTEMPTS,
                    "default": 1,
                },
                "backoff": {
                    "type": "string",
                    "enum": ["fixed", "exponential"],
                    "default": "exponential",
                },
                "delay_s": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": RETRY_MAX_DELAY_S,
                    "default": 1,
                },
                "max_delay_s": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": RETRY_MAX_DELAY_S,
                    "default": 300,
                },
            },
        },
        "timeout_s": {
            "type": ["number", "null"],
            "exclusiveMinimum": 0,
            "maximum": STEP_MAX_TIMEOUT_S,
            "description": "Seconds the step may take (default STEP_DEFAULT_TIMEOUT_S).",
        },
        "continue_on_failure": {
            "type": "boolean",
            "default": False,
            "description": "Go on with the next step when this one fails.",
        },
    },
}
Errors = dict[str, Any]


def _retry_errors(retry: Any) -> list[str]:
    if not isinstance(retry, dict):
        return ["Must be an object."]
    problems = []
    attempts = retry.get("max_attempts", 1)
    if (
        not isinstance(attempts, int)
        or isinstance(attempts, bool)
        or not 1 <= attempts <= RETRY_MAX_ATTEMPTS
    ):
        problems.append(f"max_attempts must be an integer from 1 to {RETRY_MAX_ATTEMPTS}.")
    if retry.get("backoff", "exponential") not in ("fixed", "exponential"):
        problems.append("backoff must be 'fixed' or 'exponential'.")
    for key in ("delay_s", "max_delay_s"):
        value = retry.get(key, 0)
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not 0 <= value <= RETRY_MAX_DELAY_S
        ):
            problems.append(f"{key} must be a number of seconds from 0 to {RETRY_MAX_DELAY_S}.")
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
        not isinstance(timeout, int | float)
        or isinstance(timeout, bool)
        or not 0 < timeout <= STEP_MAX_TIMEOUT_S
    ):
        errors["timeout_s"] = [
            f"Must be a number of seconds above 0 and at most {STEP_MAX_TIMEOUT_S}."
        ]
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


def definition_validate(
    *, trigger: Any, actions: Any, schedule: Any, has_webhook_secret: bool | None = None
) -> None:
    """Raise serializers.ValidationError with every problem of the definition, by field.

    ``has_webhook_secret`` (when the caller knows: the workflow has one, or the same write sets
    one) refuses a sender that needs a secret without it.
    """
    errors: Errors = {}
    errors.update(schedule_errors(schedule))
    if has_webhook_secret is False:
        errors.update(webhook_secret_errors(trigger))
    for key, value in trigger_errors(trigger, schedule).items():
        errors.setdefault(key, value)
    errors.update(_actions_errors(actions))
    if errors:
        raise serializers.ValidationError(errors)
