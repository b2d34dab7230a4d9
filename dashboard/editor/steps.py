"""The steps of a workflow as forms: each step's own keys (id, name, condition, retry, timeout,
continue on failure) and its action's params, built from the action's schema; read back from the
posted fields (``steps_read``), and changed by the editor's buttons (``steps_change``)."""

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from django.http import QueryDict

from dashboard.editor.params import (
    ABSENT,
    Connections,
    Field,
    field_build,
    field_read,
    fields_errors,
    unread_problem,
)
from dashboard.forms import error_lines
from workflows.actions.registry import UnknownActionType, action_get
from workflows.actions.schema import Schema
from workflows.definition import ACTION_SCHEMA, MAX_ACTIONS

_ENVELOPE = cast(dict[str, Any], ACTION_SCHEMA["properties"])
# The step's own keys as the form shows them: condition and timeout unset rather than null, id
# and name on one line (maxLength only picks the widget; the definition's checks still apply).
STEP_SCHEMAS: dict[str, Schema] = {
    "id": {**_ENVELOPE["id"], "maxLength": 64},
    "name": {**_ENVELOPE["name"], "maxLength": 200},
    "condition": {**_ENVELOPE["condition"], "type": "string"},
    "timeout_s": {**_ENVELOPE["timeout_s"], "type": "number"},
    "continue_on_failure": _ENVELOPE["continue_on_failure"],
}
RETRY_SCHEMAS: dict[str, Schema] = _ENVELOPE["retry"]["properties"]
UNKNOWN_PARAMS: Schema = {"description": "The params, as JSON (this action type is not known)."}


@dataclass
class Step:
    index: int
    type: str
    title: str
    description: str
    fields: list[Field]
    retry: list[Field]
    params: list[Field]
    errors: list[str] = field(default_factory=list)
    variables: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.fields[0].value)

    @property
    def anchor(self) -> str:
        return f"step-{self.index}"

    @property
    def up_id(self) -> str:
        return f"s{self.index}-up"

    @property
    def down_id(self) -> str:
        return f"s{self.index}-down"

    @property
    def has_options(self) -> bool:
        """Whether a condition, retry, timeout or failure setting is set (or refused)."""
        return any(item.values != [""] or item.errors for item in [*self.fields[2:], *self.retry])


def _params_schema(action_type: str) -> Schema | None:
    try:
        return action_get(action_type).params_schema
    except UnknownActionType:
        return None


def _fields(
    schemas: Mapping[str, Schema],
    values: Any,
    prefix: str,
    *,
    required: Sequence[str] = (),
    connections: Connections = (),
) -> list[Field]:
    """One field per schema, named ``<prefix><name>``, showing its value in ``values``."""
    values = values if isinstance(values, dict) else {}
    return [
        field_build(
            name=name,
            html_name=prefix + name,
            schema=part,
            value=values.get(name, ABSENT),
            required=name in required,
            connections=connections,
        )
        for name, part in schemas.items()
    ]


def step_build(
    action: Mapping[str, Any], index: int, connections: Connections, errors: Any = None
) -> Step:
    """The form of one step showing ``action``; ``errors`` is its part of the server's errors."""
    prefix = f"s{index}-"
    action_type = str(action.get("type", ""))
    schema = _params_schema(action_type)
    try:
        executor = action_get(action_type)
        title, description = executor.label or action_type, executor.description
    except UnknownActionType:
        title, description = action_type, ""
    own = _fields(STEP_SCHEMAS, action, prefix, required=["id"])
    retry = _fields(RETRY_SCHEMAS, action.get("retry"), f"{prefix}r-")
    if schema is None:  # a type this installation does not know: its params as JSON
        params = _fields({"params": UNKNOWN_PARAMS}, action, prefix)
    else:
        params = _fields(
            schema.get("properties", {}),
            action.get("params"),
            f"{prefix}p-",
            required=schema.get("required", []),
            connections=connections,
        )
    step = Step(index, action_type, title, description, own, retry, params)
    _errors_place(step, errors)
    return step


def _errors_place(step: Step, errors: Any) -> None:
    if not errors:
        return
    if not isinstance(errors, dict):
        step.errors += error_lines(errors)
        return
    fields_errors(step.fields, errors)
    if "retry" in errors:
        step.errors += error_lines(errors["retry"], ["retry", "retry"])
    params = errors.get("params", {})
    if isinstance(params, dict):
        fields_errors(step.params, params)
        known = {item.name for item in step.params}
        for key, value in params.items():
            if key not in known:
                step.errors += error_lines(
                    value, ["params"] if key == "non_field_errors" else ["", key]
                )
    else:
        step.errors += error_lines(params)
    for key in ("type", "non_field_errors"):
        if key in errors:
            step.errors += error_lines(errors[key])


def steps_build(actions: Any, connections: Connections, errors: Any = None) -> list[Step]:
    if not isinstance(actions, list):
        return []
    errors = errors if isinstance(errors, dict) else {}
    return [
        step_build(action, index, connections, errors.get(str(index)))
        for index, action in enumerate(actions)
        if isinstance(action, dict)
    ]


def _step_read(post: QueryDict, index: int, problems: dict[str, Any]) -> dict[str, Any]:
    prefix = f"s{index}-"
    action: dict[str, Any] = {
        "id": post.get(prefix + "id", ""),
        "type": post.get(prefix + "type", ""),
    }
    found: dict[str, Any] = {}

    def read(key: str, html_name: str, into: dict[str, Any], group: str = "") -> None:
        """Put the field's value in ``into``; one that does not read is also a problem, named
        like the server's errors (``{index: {group: {key: [...]}}}``, or without the group)."""
        value = field_read(post, html_name)
        problem = unread_problem(value)
        if problem:
            place = problems.setdefault(str(index), {})
            (place.setdefault(group, {}) if group else place)[key] = [problem]
        if value is not ABSENT:
            into[key] = value

    for name in STEP_SCHEMAS:
        if name != "id":
            read(name, prefix + name, found)
    retry: dict[str, Any] = {}
    for name in RETRY_SCHEMAS:
        read(name, f"{prefix}r-{name}", retry, "retry")
    params: dict[str, Any] = {}
    schema = _params_schema(action["type"])
    if schema is None:
        holder: dict[str, Any] = {}
        read("params", f"{prefix}params", holder)
        params = holder.get("params", {})
    else:
        for name in schema.get("properties", {}):
            read(name, f"{prefix}p-{name}", params, "params")
    action["params"] = params
    if retry:
        action["retry"] = retry
    action.update(found)
    return action


def steps_read(post: QueryDict) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The steps the posted fields describe, in order, and the fields that could not be read
    (``{index: {"params": {name: [message]}}}``, the server's error shape)."""
    problems: dict[str, Any] = {}
    raw = post.get("step_count", "")
    # One more than a definition may hold, so a longer one is refused for its length.
    count = min(int(raw), MAX_ACTIONS + 1) if raw.isdigit() else 0
    actions = [_step_read(post, index, problems) for index in range(count)]
    return actions, problems


def _unique_id(base: str, taken: Sequence[str]) -> str:
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{base}_{number}"
    return candidate


def steps_change(actions: list[dict[str, Any]], command: str) -> tuple[list[dict[str, Any]], str]:
    """``actions`` after an editor button: ``add:<type>``, ``up:<i>``, ``down:<i>``,
    ``copy:<i>``, ``remove:<i>``; anything else (``refresh``) changes nothing. Returns the new
    list and the html id to focus next ("" for none)."""
    verb, _, argument = command.partition(":")
    taken = [str(action.get("id", "")) for action in actions]
    if verb == "add":
        actions = [*actions, {"id": _unique_id(argument, taken), "type": argument, "params": {}}]
        return actions, f"step-{len(actions) - 1}"
    if not argument.isdigit() or int(argument) >= len(actions):
        return actions, ""
    index = int(argument)
    result = list(actions)
    if verb in ("up", "down"):
        return _move(result, index, -1 if verb == "up" else 1)
    if verb == "copy":
        duplicate = copy.deepcopy(result[index])
        duplicate["id"] = _unique_id(f"{duplicate.get('id', 'step')}_copy", taken)
        result.insert(index + 1, duplicate)
        return result, f"step-{index + 1}"
    if verb == "remove":
        del result[index]
        return result, "add-step"
    return result, ""


def _move(actions: list[dict[str, Any]], index: int, offset: int) -> tuple[list[Any], str]:
    """Swap the step with its neighbour; focus stays on the same button of the moved step, or
    the other one when the step reached the end it moved to (that button is disabled there)."""
    target = index + offset
    if not 0 <= target < len(actions):
        return actions, ""
    actions[index], actions[target] = actions[target], actions[index]
    at_end = target == 0 if offset < 0 else target == len(actions) - 1
    same, other = ("up", "down") if offset < 0 else ("down", "up")
    return actions, f"s{target}-{other if at_end else same}"
