"""Reading and writing workflow documents (JSON or YAML), and error paths.

Errors are reported as ``{path: [message, …]}`` with paths such as
``workflows[2].actions.1.params.url``: the list index of a workflow in brackets, then DRF's own
error keys joined with dots, so a line reads like ``workflows[2].trigger.type: Unknown …``.
"""

import json
import re
from typing import Any

import yaml

from core.parsing import InputRefused, json_loads, yaml_load

FORMAT_VERSION = 1
FORMATS = ("json", "yaml")

Errors = dict[str, list[str]]


class DocumentInvalid(Exception):
    """The document cannot be imported; ``errors`` maps each problem's path to its messages."""

    def __init__(self, errors: Errors) -> None:
        super().__init__(f"{sum(len(messages) for messages in errors.values())} problem(s)")
        self.errors = errors

    def lines(self) -> list[str]:
        return [
            f"{path}: {message}" for path, messages in self.errors.items() for message in messages
        ]


def document_parse(text: str) -> Any:
    """The document in ``text``: JSON, or else YAML (safe loading only, no custom tags), both
    read within core.parsing's limits (depth, alias expansion, storable text).

    Raises DocumentInvalid when it is neither, is refused by those limits, or holds values JSON
    has no type for (YAML reads an unquoted 2025-01-01 as a date).
    """
    try:
        document = json_loads(text)
    except InputRefused as exc:
        raise DocumentInvalid({"document": [str(exc)]}) from None
    except ValueError:
        try:
            document = yaml_load(text)
        except InputRefused as exc:
            raise DocumentInvalid({"document": [str(exc)]}) from None
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            line = f" (line {where.line + 1})" if where is not None else ""
            raise DocumentInvalid({"document": [f"Neither JSON nor YAML{line}."]}) from None
    problem = re.sub(r"^workflows\.(\d+)", r"workflows[\1]", _not_json(document, ""))
    if problem:
        raise DocumentInvalid(
            {problem: ["Not a JSON value (quote dates, times and other YAML-only values)."]}
        )
    return document


def document_dump(document: dict[str, Any], fmt: str = "json") -> str:
    """The document as text in ``fmt`` (json or yaml), keys in the order they were given."""
    if fmt == "yaml":
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def error_paths(detail: Any, prefix: str) -> Errors:
    """DRF's nested error detail flattened to ``{"prefix.key.sub": [messages]}``."""
    errors: Errors = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            path = f"{prefix}.{key}" if prefix and key != "non_field_errors" else prefix or str(key)
            for sub, messages in error_paths(value, path).items():
                errors.setdefault(sub, []).extend(messages)
    elif isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        for index, item in enumerate(detail):
            for sub, messages in error_paths(item, f"{prefix}.{index}").items():
                errors.setdefault(sub, []).extend(messages)
    elif isinstance(detail, list):
        errors[prefix] = [str(item) for item in detail]
    else:
        errors[prefix] = [str(detail)]
    return errors


def _not_json(value: Any, path: str) -> str:
    """The path of the first value JSON cannot hold, or ""."""
    if value is None or isinstance(value, str | bool | int | float):
        return ""
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _not_json(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
        return ""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path}.{key}" if path else str(key)
            found = _not_json(item, f"{path}.{key}" if path else key)
            if found:
                return found
        return ""
    return path or "document"
