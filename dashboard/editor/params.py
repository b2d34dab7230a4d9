"""One value of a step as a form field, from its JSON Schema: which widget shows it, the text it
shows for a value, and how the posted text reads back into that value. ``field_read`` undoes
``field_build``, so a definition survives a trip through the form unchanged.

Widgets (``kind``): ``text``, ``textarea``, ``number``, ``boolean`` (unset / yes / no), ``enum``,
``connection`` and ``connections`` (pickers filtered by the platforms the schema names), ``map``
(name / value rows) and ``json`` (a JSON box, for what no simpler widget can hold).
"""

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict

from core.parsing import json_loads
from dashboard.forms import error_lines
from workflows.actions.schema import Schema

ABSENT = object()
_INTEGER = re.compile(r"[+-]?\d{1,18}")
_LONG_TEXT = 300


@dataclass
class MapRow:
    key: str
    value: str
    as_json: bool = False


@dataclass
class Field:
    name: str
    html_name: str
    kind: str
    required: bool = False
    help: str = ""
    template: bool = False
    default: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)
    value: Any = ""
    rows: list[MapRow] = field(default_factory=list)
    typed_values: bool = False
    blank: bool = True  # whether a select offers "not set"
    label: str = ""  # what the form calls it, when not its name
    errors: list[str] = field(default_factory=list)

    @property
    def values(self) -> list[str]:
        return self.value if isinstance(self.value, list) else [self.value]


Connections = Sequence[tuple[int, str, str]]  # (id, name, platform)


def kind_of(schema: Schema) -> str:
    kind = schema.get("type")
    if "x-connection-platform" in schema:
        return "connections" if kind == "array" else "connection"
    if kind == "string" and "enum" in schema:
        return "enum"
    if kind in ("boolean", "string"):
        long = "format" not in schema and schema.get("maxLength", math.inf) > _LONG_TEXT
        return "boolean" if kind == "boolean" else "textarea" if long else "text"
    if kind in ("integer", "number"):
        return "number"
    extra = schema.get("additionalProperties", {})
    if kind == "object" and "properties" not in schema and isinstance(extra, dict):
        return "map"
    return "json"


def _fits(kind: str, value: Any, schema: Schema) -> bool:
    """Whether the widget can show ``value`` exactly (a template fits any text-like widget)."""
    if value is ABSENT or kind == "json":
        return True
    if isinstance(value, str):
        return kind not in ("map", "connections")
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "connection":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "connections":
        return isinstance(value, list) and all(type(item) is int for item in value)
    if kind == "map":
        typed = _typed_values(schema)
        return isinstance(value, dict) and (not typed or all(isinstance(v, str) for v in value))
    return False


def _typed_values(schema: Schema) -> bool:
    extra = schema.get("additionalProperties")
    return isinstance(extra, dict) and extra.get("type") == "string"


def _help(schema: Schema) -> tuple[str, str]:
    default = schema.get("default", ABSENT)
    shown = "" if default is ABSENT else _text(default)
    return schema.get("description", ""), shown


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def field_build(
    *,
    name: str,
    html_name: str,
    schema: Schema,
    value: Any,
    required: bool = False,
    connections: Connections = (),
) -> Field:
    """The field showing ``value`` (ABSENT: not set)."""
    kind = kind_of(schema)
    if isinstance(value, Unread) or not _fits(kind, value, schema):
        kind = "json"
    description, default = _help(schema)
    result = Field(
        name=name,
        html_name=html_name,
        kind=kind,
        required=required,
        help=description,
        default=default,
        template=bool(schema.get("x-template") or (schema.get("items") or {}).get("x-template")),
    )
    _fill(result, schema, value, connections)
    return result


def _fill(result: Field, schema: Schema, value: Any, connections: Connections) -> None:
    kind = result.kind
    if kind == "map":
        result.typed_values = _typed_values(schema)
        result.template = bool((schema.get("additionalProperties") or {}).get("x-template"))
        items = {} if value is ABSENT else value
        result.rows = [
            MapRow(key, _text(item), isinstance(item, Unread) or not isinstance(item, str))
            for key, item in items.items()
        ]
        result.rows.append(MapRow("", ""))
        return
    if kind in ("connection", "connections"):
        platforms = schema.get("x-connection-platform", [])
        result.choices = [
            (str(pk), f"{label} ({platform})")
            for pk, label, platform in connections
            if platform in platforms
        ]
    elif kind == "enum":
        result.choices = [(str(choice), str(choice)) for choice in schema["enum"]]
    elif kind == "boolean":
        result.choices = [("true", "Yes"), ("false", "No")]
    if value is ABSENT:
        result.value = [] if kind == "connections" else ""
    elif kind == "connections":
        result.value = [str(item) for item in value]
    elif isinstance(value, Unread):
        result.value = str(value)
    elif kind == "json":
        result.value = json.dumps(value, indent=2, ensure_ascii=False)
    else:
        result.value = "true" if value is True else "false" if value is False else _text(value)
    known = {choice for choice, _ in result.choices}
    missing = [item for item in result.values if item and item not in known]
    if result.choices or kind in ("connection", "connections"):
        result.choices += [(item, item) for item in missing]


class Unread(str):
    """The text of a JSON box (or a JSON map value) that does not parse: kept in place of the
    value, so the form shows it again as typed, with ``unread_problem`` beside it."""


def unread_problem(value: Any) -> str:
    """Why ``value`` (from field_read) cannot be saved, or "" when it can."""
    if isinstance(value, Unread):
        return "Must be valid JSON."
    if isinstance(value, dict):
        bad = [key for key, item in value.items() if isinstance(item, Unread)]
        return f"Not valid JSON: the value of {', '.join(bad)}." if bad else ""
    return ""


def field_read(post: QueryDict, html_name: str) -> Any:
    """The value the posted field holds (ABSENT when left empty), read as the widget it was
    shown as (the hidden ``<html_name>-kind``). JSON that does not parse comes back as
    Unread."""
    kind = post.get(f"{html_name}-kind", "text")
    if kind == "connections":
        chosen = [item for item in post.getlist(html_name) if item]
        return [int(item) if item.isdigit() else item for item in chosen] or ABSENT
    if kind == "map":
        return _map_read(post, html_name)
    text = post.get(html_name, "").replace("\r\n", "\n")
    if text == "":
        return ABSENT
    if kind == "json":
        return _json_read(text)
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    if kind == "connection" and text.isdigit():
        return int(text)
    if kind == "number":
        return _number_read(text)
    return text


def _number_read(text: str) -> Any:
    if _INTEGER.fullmatch(text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return text  # a template, or a mistake the schema names
    return number if math.isfinite(number) else text


def _json_read(text: str) -> Any:
    try:
        return json_loads(text)
    except ValueError:
        return Unread(text)


def _map_read(post: QueryDict, html_name: str) -> Any:
    keys = post.getlist(f"{html_name}-key")
    values = post.getlist(f"{html_name}-value")
    as_json = set(post.getlist(f"{html_name}-json"))
    result: dict[str, Any] = {}
    for index, (key, text) in enumerate(zip(keys, values, strict=False)):
        text = text.replace("\r\n", "\n")
        if key == "" and text == "":
            continue
        result[key] = _json_read(text) if str(index) in as_json else text
    return result or ABSENT


def fields_errors(fields: Sequence[Field], errors: Mapping[str, Any]) -> None:
    """Put each field's errors (DRF's shape, nested for map entries) beside it."""
    for item in fields:
        if item.name in errors:
            item.errors += error_lines(errors[item.name], [item.name])
