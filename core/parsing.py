"""Reading untrusted JSON and YAML within limits, before anything else looks at it.

Every request body, form field, webhook delivery and workflow document the project parses goes
through ``json_loads`` (or ``BoundedJSONDecoder``, ``BoundedJSONParser``) and ``yaml_load``:

- nesting deeper than ``INPUT_MAX_DEPTH`` is refused by a scan of the text *before* the parser
  runs, so no parser, validator or template ever recurses near Python's limit;
- a YAML document may not expand (through aliases) to more than ``INPUT_MAX_NODES`` values, nor
  refer to itself, and this is measured on the composed node graph before any value is built;
- NaN, Infinity and numbers that only fit as infinity (``1e999``) are refused: they are not JSON,
  and PostgreSQL's jsonb rejects them;
- a NUL character or an unpaired surrogate anywhere (keys included) is refused: PostgreSQL text
  and jsonb cannot store them.

Each refusal raises InputRefused, a ``json.JSONDecodeError`` (so a ``ValueError``): code that
already answers malformed JSON with a 400 answers these the same way.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

import yaml
from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_OPENERS = ("[", "{")
_YAML_OPEN = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_YAML_CLOSE = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


class InputRefused(json.JSONDecodeError):
    """The input is refused before (or right after) parsing; ``str()`` says why, plainly."""

    def __init__(self, message: str) -> None:
        ValueError.__init__(self, message)
        self.msg, self.doc, self.pos, self.lineno, self.colno = message, "", 0, 1, 1


def max_depth() -> int:
    return int(settings.INPUT_MAX_DEPTH)


def json_too_deep(text: str, limit: int | None = None) -> bool:
    """True when the JSON in ``text`` opens more than ``limit`` arrays/objects inside each other.

    Brackets inside strings do not count; malformed text is judged as far as it goes (the parser
    refuses it afterwards anyway).
    """
    limit = max_depth() if limit is None else limit
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub("", text)):
        if match[0] in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def json_loads(data: str | bytes) -> Any:
    """The JSON value in ``data`` (bytes are UTF-8). Raises InputRefused for the limits above,
    and json.JSONDecodeError / UnicodeDecodeError (both ValueError) for malformed input."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    if json_too_deep(text):
        raise InputRefused(f"The JSON nests deeper than {max_depth()} levels.")
    value = json.loads(text, parse_constant=_not_json_constant, parse_float=_finite_float)
    problem = storable_problem(value)
    if problem:
        raise InputRefused(problem)
    return value


class BoundedJSONDecoder(json.JSONDecoder):
    """``json_loads`` as a decoder class, for Django's ``forms.JSONField(decoder=...)``."""

    def decode(self, s: str, _w: Any = None) -> Any:
        return json_loads(s)


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, reading through ``json_loads``: every refusal is a 400 ParseError."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            return json_loads(raw.decode(encoding))
        except InputRefused as exc:
            raise ParseError(str(exc)) from None
        except (ValueError, LookupError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


def yaml_load(text: str) -> Any:
    """The single YAML document in ``text``, loaded safely within the limits above.

    Raises InputRefused for the limits, yaml.YAMLError for malformed YAML.
    """
    limit = max_depth()
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, _YAML_OPEN):
            depth += 1
            if depth > limit:
                raise InputRefused(f"The YAML nests deeper than {limit} levels.")
        elif isinstance(event, _YAML_CLOSE):
            depth -= 1
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is None:
        return None
    nodes = _expanded_size(node, {}, set())
    if nodes > settings.INPUT_MAX_NODES:
        raise InputRefused(
            f"The YAML expands to {nodes} values (aliases included); at most "
            f"{settings.INPUT_MAX_NODES} are read."
        )
    loader = yaml.SafeLoader("")
    try:
        value = loader.construct_document(node)
    except ValueError as exc:  # an integer longer than Python reads (sys.int_info)
        raise InputRefused(f"The YAML holds a value that cannot be read: {exc}") from None
    finally:
        loader.dispose()
    problem = storable_problem(value)
    if problem:
        raise InputRefused(problem)
    return value


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """How many values ``node`` becomes once every alias is copied out; refuses a node that
    contains itself. ``sizes`` remembers shared nodes, so the work is linear in the text."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        raise InputRefused("The YAML refers to itself through an alias.")
    open_nodes.add(key)
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, sizes, open_nodes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        for child_key, child_value in node.value:
            size += _expanded_size(child_key, sizes, open_nodes)
            size += _expanded_size(child_value, sizes, open_nodes)
    open_nodes.discard(key)
    sizes[key] = size
    return size


def text_storable(text: str) -> bool:
    """No NUL character and no unpaired UTF-16 surrogate: what PostgreSQL text and jsonb take."""
    if "\x00" in text:
        return False
    try:
        text.encode()  # an unpaired surrogate has no UTF-8 form
    except UnicodeEncodeError:
        return False
    return True


def storable_problem(value: Any) -> str:
    """Why ``value`` (a parsed JSON/YAML value) cannot be stored, or "" when it can."""
    for leaf in _leaves(value):
        if isinstance(leaf, str) and not text_storable(leaf):
            return "The input holds a NUL character (\\u0000) or an unpaired surrogate."
        if isinstance(leaf, float) and not math.isfinite(leaf):
            return "The input holds a number JSON cannot hold (NaN or infinity)."
    return ""


def _leaves(value: Any) -> Iterator[Any]:
    """Every key and scalar in ``value``; iterative, so any depth is safe to walk."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield from item
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        else:
            yield item


def _not_json_constant(name: str) -> Any:
    raise InputRefused(f"{name} is not JSON.")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise InputRefused(f"The number {text[:40]} is too large.")
    return number
