"""Operations whose result size their arguments tell, refused before they allocate:
``str.replace`` and ``str.join`` in the sandbox, and the filters ``center``, ``indent``,
``wordwrap``, ``replace``, ``join``, ``batch``, ``slice`` and ``tojson``. They spend from the
render's budget kept by template_limits.py."""

import functools
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from jinja2.sandbox import SecurityError
from jinja2.utils import _PassArg

from workflows.template_limits import (
    LOOP_FILTER,
    MAX_JSON_INDENT,
    MAX_SEQUENCE,
    WEIGH_FILTER,
    at_most,
    loop_budget,
    output_limit,
    tick,
    weigh,
    weighed,
)


def _replace_size(text: str, old: Any, new: Any, count: Any = None) -> int:
    hits = text.count(str(old)) if str(old) else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * len(str(new))


def bounded_replace(text: str, old: Any, new: Any, count: int = -1) -> str:
    """``str.replace`` that first checks the size of its result."""
    output_limit(_replace_size(text, old, new, count))
    return text.replace(old, new, count)


def _listed(items: Iterable[Any], separator: str) -> list[Any]:
    """``items`` as a list, refused as soon as joining them with ``separator`` would be too long."""
    limit = settings.TEMPLATE_MAX_OUTPUT_CHARS
    listed, total = [], -len(separator)
    for item in items:
        total += len(separator) + weigh(item)
        if total > limit:
            raise SecurityError(f"joined result is longer than the output limit ({limit} chars)")
        listed.append(item)
        if len(listed) % 4096 == 0:
            tick()
    return listed


def bounded_join(separator: str, items: Iterable[Any]) -> str:
    """``str.join`` that checks the size of its result as it goes."""
    return separator.join(_listed(items, separator))


# --- Filters whose result size their arguments tell -----------------------------------------------
# Each check takes the filter's own arguments, under the filter's own parameter names (so keyword
# arguments are checked too), and returns the value to filter (``join`` turns a generator into the
# list it measured).


def _lines(text: str) -> int:
    return text.count("\n") + 1


def _center_check(value: Any, width: Any = 80) -> Any:
    output_limit(width if isinstance(width, int) else 0)
    return value


def _indent_check(value: Any, width: Any = 4, *_: Any, **__: Any) -> Any:
    text = str(value)
    unit = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    output_limit(len(text) + _lines(text) * unit)
    return value


def _wordwrap_check(
    value: Any, width: Any = 79, long_words: Any = True, wrap: Any = None, *_: Any, **kwargs: Any
) -> Any:
    text, joiner = str(value), str(wrap or kwargs.get("wrapstring") or "\n")
    wraps = len(text) // max(width if isinstance(width, int) else 1, 1) + _lines(text)
    output_limit(len(text) + wraps * len(joiner))
    return value


def _replace_check(value: Any, old: Any = "", new: Any = "", count: Any = None) -> Any:
    output_limit(_replace_size(str(value), old, new, count))
    return value


def _join_check(value: Any, separator: Any = "", *_: Any, **kwargs: Any) -> Any:
    return _listed(value, str(kwargs.get("d", separator)))


def _batch_check(value: Any, linecount: Any = 1, fill_with: Any = None) -> Any:
    at_most(linecount, MAX_SEQUENCE, "batch size")
    return value


def _slice_check(value: Any, slices: Any = 1, fill_with: Any = None) -> Any:
    at_most(slices, MAX_SEQUENCE, "slice count")
    return value


def _tojson_check(value: Any, indent: Any = None) -> Any:
    width = len(indent) if isinstance(indent, str) else indent if isinstance(indent, int) else 0
    at_most(width, MAX_JSON_INDENT, "indent")
    return value


_FILTER_CHECKS: dict[str, Callable[..., Any]] = {
    "center": _center_check,
    "indent": _indent_check,
    "wordwrap": _wordwrap_check,
    "replace": _replace_check,
    "join": _join_check,
    "batch": _batch_check,
    "slice": _slice_check,
    "tojson": _tojson_check,
}


def _guarded(original: Callable[..., Any], check: Callable[..., Any]) -> Callable[..., Any]:
    skip = 1 if _PassArg.from_obj(original) else 0

    @functools.wraps(original)  # keeps jinja_pass_arg: Jinja still passes what it passed
    def guarded(*args: Any, **kwargs: Any) -> Any:
        value = check(*args[skip:], **kwargs)
        return original(*args[:skip], value, *args[skip + 1 :], **kwargs)

    return guarded


def filters_bounded(filters: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Replacements for the filters whose result size their arguments tell, plus the two filters
    ``nodes_guard`` inserts."""
    bounded = {name: _guarded(filters[name], check) for name, check in _FILTER_CHECKS.items()}
    return {**bounded, LOOP_FILTER: loop_budget, WEIGH_FILTER: weighed}
