"""Strict writes, for every serializer that reads a request body.

- A key the serializer does not know is refused with 400, each one named; where the key is the
  seed drawing's camelCase name for one of ours (``workflowType``, ``isActive``, ``workflowId``,
  ``articleId``, ``avgExecutionTime``…) the message names the field to use instead. Nothing is
  silently ignored: a client that sends ``isActive: false`` must not get an active workflow.
- Multi-line text (a model ``TextField``, or a field declared with ``text_field``: article content
  and excerpts, descriptions, notes, comments) is kept byte for byte: DRF trims whitespace by
  default, which turns a Markdown code block or a trailing newline into different content.
  Single-line values (names, titles, slugs) are still trimmed.

Keys of JSON objects that are not serializers (connection credentials and config, workflow
documents) are checked with ``unknown_keys_errors``, which gives the same messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from rest_framework import serializers
from rest_framework.request import Request

TEXTAREA = "textarea.html"
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])([A-Z])")


def snake_case(name: str) -> str:
    """``workflowType`` → ``workflow_type``; a snake_case name comes back as it is."""
    return _CAMEL_HUMP.sub(r"_\1", name).lower()


def field_suggested(key: str, known: Iterable[str], hints: Mapping[str, str] | None = None) -> str:
    """The known field a client most likely meant by ``key``, or "".

    ``hints`` first (names that are not just another spelling: ``secret`` → ``signing_secret``),
    then the key in snake_case, then without an ``_id`` suffix (``workflowId`` → ``workflow``, a
    relation we name by the object) or with an ``_ms`` one (``avgExecutionTime``).
    """
    names = set(known)
    if hints and key in hints:
        return hints[key]
    snake = snake_case(key)
    candidates = [snake, snake.removesuffix("_id"), f"{snake}_ms"]
    return next((name for name in candidates if name in names and name != key), "")


def unknown_key_message(
    key: str, known: Iterable[str], hints: Mapping[str, str] | None = None
) -> str:
    suggestion = field_suggested(key, known, hints)
    return f"Unknown field; use {suggestion}." if suggestion else "Unknown field."


def unknown_keys_errors(
    data: Mapping[Any, Any], known: Iterable[str], hints: Mapping[str, str] | None = None
) -> dict[str, list[str]]:
    """``{key: [message]}`` for every key of ``data`` that is not in ``known``; {} when none."""
    names = set(known)
    return {
        str(key): [unknown_key_message(str(key), names, hints)] for key in data if key not in names
    }


def text_field(**kwargs: Any) -> serializers.CharField:
    """A multi-line text field: kept byte for byte by StrictFieldsMixin."""
    kwargs.setdefault("style", {"base_template": TEXTAREA})
    return serializers.CharField(**kwargs)


class StrictFieldsMixin:
    """Put first in a serializer's bases: unknown keys are a 400 naming each, and multi-line
    text keeps its whitespace. ``key_hints`` adds suggestions spelling alone cannot find."""

    key_hints: ClassVar[dict[str, str]] = {}

    def get_fields(self) -> dict[str, serializers.Field]:
        fields: dict[str, serializers.Field] = super().get_fields()  # type: ignore[misc]
        for field in fields.values():
            if isinstance(field, serializers.CharField) and (
                field.style.get("base_template") == TEXTAREA
            ):
                field.trim_whitespace = False
        return fields

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            known = self.fields  # type: ignore[attr-defined]
            errors = unknown_keys_errors(data, known, self.key_hints)
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictSerializer(StrictFieldsMixin, serializers.Serializer):
    """A plain serializer with strict writes."""


class NoParametersSerializer(StrictSerializer):
    """The body of a verb that takes no parameters (retry, cancel, publish, verify, …): none, or
    an empty object."""


def no_parameters_check(request: Request) -> None:
    """Raise a 400 ValidationError when the request body holds any key (or is not an object)."""
    data = request.data if request.data not in (None, "") else {}
    NoParametersSerializer(data=data).is_valid(raise_exception=True)
