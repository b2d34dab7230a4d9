"""Action params described by JSON Schema (draft 2020-12), checked with the jsonschema library.

Each action type declares ``params_schema``; that one schema validates definitions, is the
params part of the OpenAPI document, is served as the action catalogue and generates
docs/actions.md. Two extension keywords carry what JSON Schema has no word for:

- ``x-template: true``: the field may hold a template (a string with ``{{ … }}``) in place of its
  value. At save time such a string passes; once rendered, the value must have the real type
  (a rendered ``"7"`` counts as the number 7, as the API's forms read it).
- ``x-connection-platform: [...]``: the field holds the id of an IntegrationConnection of one of
  these platforms (the action's own checks look it up).

``x-messages`` ({keyword: message}) words the error a keyword gives, where the library's wording
would not tell a person what to do; ``{value}`` in it stands for the value refused.
"""

import copy
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.utils.dateparse import parse_datetime
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaError

Schema = dict[str, Any]
Errors = dict[str, Any]
Path = tuple[str, ...]

# What workflows.templating.has_template looks for, as a JSON Schema pattern.
TEMPLATE_PATTERN = r"\{\{|\{%|\{#"
TEMPLATE: Schema = {
    "type": "string",
    "pattern": TEMPLATE_PATTERN,
    "description": "A template, rendered when the step runs.",
}
_TYPE_NAMES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}
_TRUE = {"true", "t", "yes", "y", "on", "1"}
_FALSE = {"false", "f", "no", "n", "off", "0"}
# Keywords of JSON Schema 2020-12 that an OpenAPI 3.0 schema does not have: kept as extensions.
_NOT_IN_OPENAPI_30 = ("dependentRequired", "propertyNames", "$comment")

FORMATS = FormatChecker(formats=())
_FORMAT_MESSAGES = {
    "uri": "Enter a valid URL.",
    "date-time": "Must be an ISO 8601 date and time.",
}


@FORMATS.checks("uri")
def _is_url(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        URLValidator()(value)
    except DjangoValidationError:
        return False
    return True


@FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        return parse_datetime(value) is not None
    except ValueError:
        return False


def schema_templated(schema: Schema) -> Schema:
    """The schema as it applies at save time: a field marked ``x-template`` also takes a
    template string (``anyOf`` its own schema and TEMPLATE)."""
    result = {key: _templated_part(key, value) for key, value in schema.items()}
    if not schema.get("x-template") or not {"type", "anyOf"} & set(schema):
        return result  # not marked, or any value goes (a template string too)
    real = {key: value for key, value in result.items() if key not in ("description", "default")}
    annotations = {key: result[key] for key in ("description", "default") if key in result}
    return {"anyOf": [real, TEMPLATE], **annotations, "x-template": True}


def _templated_part(key: str, value: Any) -> Any:
    if key in ("properties", "$defs") and isinstance(value, dict):
        return {name: schema_templated(part) for name, part in value.items()}
    if key in ("items", "additionalProperties") and isinstance(value, dict):
        return schema_templated(value)
    return value


def schema_openapi(schema: Any) -> Any:
    """The schema as an OpenAPI 3.0 Schema Object: ``"type": [T, "null"]`` becomes
    ``nullable``, a numeric ``exclusiveMinimum`` the boolean form, and keywords OpenAPI 3.0
    lacks stay as ``x-`` extensions."""
    if isinstance(schema, list):
        return [schema_openapi(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result: Schema = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, list):
            types = [name for name in value if name != "null"]
            result["type"] = types[0]
            if "null" in value:
                result["nullable"] = True
        elif key in ("exclusiveMinimum", "exclusiveMaximum"):
            result[key.replace("exclusive", "").lower()] = value
            result[key] = True
        elif key in _NOT_IN_OPENAPI_30:
            result[f"x-{key.lstrip('$')}"] = value
        elif key in ("properties", "$defs"):
            result[key] = {name: schema_openapi(part) for name, part in value.items()}
        elif key in ("items", "additionalProperties", "not", "anyOf", "oneOf", "allOf"):
            result[key] = schema_openapi(value)
        else:
            result[key] = value
    return result


def params_coerce(schema: Mapping[str, Any], value: Any) -> Any:
    """Rendered params read as the schema's types: a template renders to text ("7", "true")
    or keeps its expression's type (7 where text is wanted), as a form field would read it."""
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return {
            key: params_coerce(properties.get(key, extra if isinstance(extra, dict) else {}), item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        items = schema.get("items")
        return [params_coerce(items if isinstance(items, dict) else {}, item) for item in value]
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    return _scalar_coerce(types, value)


def _scalar_coerce(types: list[Any], value: Any) -> Any:
    if isinstance(value, str) and not set(types) & {"string", None}:
        text = value.strip()
        if "boolean" in types and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        if "integer" in types and re.fullmatch(r"[+-]?\d{1,18}", text):
            return int(text)
        if "number" in types:
            try:
                return float(text)
            except ValueError:
                return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "string" in types and not {"integer", "number"} & set(types):
            return str(value)
        if "boolean" in types and value in (0, 1) and not {"integer", "number"} & set(types):
            return bool(value)
    return value


def params_defaults(schema: Mapping[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with each absent property that has a ``default`` set to it (also inside
    nested objects)."""
    result = dict(params)
    for name, part in schema.get("properties", {}).items():
        if name not in result and "default" in part:
            result[name] = copy.deepcopy(part["default"])
        elif isinstance(result.get(name), dict) and "properties" in part:
            result[name] = params_defaults(part, result[name])
    return result


def validator_for(schema: Schema) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FORMATS)


def schema_errors(validator: Draft202012Validator, params: Any) -> Errors:
    """Every problem of ``params``, in DRF's error shape (``{field: [messages]}``, nested for
    nested fields, ``non_field_errors`` for the params as a whole)."""
    detail: Errors = {}
    for error in validator.iter_errors(params):
        for path, message in _messages(error, templated=False):
            _put(detail, path, message)
    return detail


def _messages(error: SchemaError, *, templated: bool) -> Iterator[tuple[Path, str]]:
    path = tuple(str(part) for part in error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance
    worded = schema.get("x-messages", {}).get(error.validator)
    if worded:
        worded = worded.replace("{value}", str(instance))
    if error.validator == "anyOf" and schema.get("x-template"):
        for sub in error.context or []:
            if sub.relative_schema_path and sub.relative_schema_path[0] == 0:
                yield from _messages(sub, templated=True)
    elif error.validator == "required" and isinstance(instance, dict):
        for name in _missing(error.validator_value, instance):
            yield (*path, name), worded or "This field is required."
    elif error.validator == "additionalProperties" and isinstance(instance, dict):
        known = sorted(schema.get("properties", {}))
        for name in sorted(set(instance) - set(known)):
            message = f"Unknown param. Known params: {', '.join(known)}."
            yield (*path, name), worded or (message if not path else _unknown_key(known))
    elif error.validator == "dependentRequired" and isinstance(instance, dict):
        for name, needed in error.validator_value.items():
            missing = _missing(needed, instance)
            if name in instance and missing:
                yield (*path, name), worded or f"Needs {' and '.join(missing)} too."
    else:
        yield path, worded or _message(error, templated)


def _missing(names: Iterable[str], instance: Mapping[str, Any]) -> list[str]:
    return [name for name in names if name not in instance]


def _unknown_key(known: list[str]) -> str:
    return f"Unknown key. Known: {', '.join(known)}."


def _message(error: SchemaError, templated: bool) -> str:
    value, limit = error.instance, error.validator_value
    or_template = " or a template ({{ … }})" if templated else ""
    match error.validator:
        case "type":
            names = limit if isinstance(limit, list) else [limit]
            wanted = " or ".join(_TYPE_NAMES.get(str(name), str(name)) for name in names)
            return f"Must be {wanted}{or_template}."
        case "enum":
            choices = ", ".join(str(choice) for choice in limit)
            return f'"{value}" is not a valid choice. Choose from: {choices}.'
        case "minimum":
            return f"Ensure this value is greater than or equal to {limit}."
        case "maximum":
            return f"Ensure this value is less than or equal to {limit}."
        case "minLength":
            if limit == 1:
                return "This field may not be blank."
            return f"Ensure this field has at least {limit} characters."
        case "maxLength":
            return f"Ensure this field has no more than {limit} characters."
        case "minItems":
            return "This list may not be empty." if limit == 1 else f"At least {limit} items."
        case "maxItems":
            return f"Ensure this field has no more than {limit} elements."
        case "minProperties":
            return "This object may not be empty."
        case "format":
            return _FORMAT_MESSAGES.get(limit, f"Must be a valid {limit}.")
        case "pattern":
            return f"Does not match the pattern {limit}."
    return error.message


def _put(detail: Errors, path: Path, message: str) -> None:
    *parents, leaf = path or ("non_field_errors",)
    node = detail
    for key in parents:
        child = node.get(key)
        if isinstance(child, list):
            child = node[key] = {"non_field_errors": child}
        node = node.setdefault(key, {}) if child is None else child
    existing = node.get(leaf)
    if isinstance(existing, dict):
        existing.setdefault("non_field_errors", []).append(message)
    elif message not in node.setdefault(leaf, []):
        node[leaf].append(message)
