"""The budget every template render runs on, so no template can run forever or fill memory.

A render gets a deadline (TEMPLATE_MAX_RENDER_S) and an output allowance
(TEMPLATE_MAX_OUTPUT_CHARS). The sandbox in ``workflows.templating`` spends from it:

- time: every loop iteration, every call (macros included) and every printed value checks the
  deadline, so nested loops or exponential recursion that print nothing still stop;
- size: every value a template builds (list, tuple and dict literals, ``~``, ``+``, ``*``, ``**``,
  ``%``, call results) and every value it prints is weighed, and operations whose result size can
  be told from their operands (``'%999999999d' % 1``, ``'a'.center(10**9)``, ``|join``,
  ``|replace``, ``|indent``…) are refused *before* they allocate.

A value is weighed by about how many characters it would print as, counting a shared part each
time it appears, so ``[[1] * 10**6] * 10**6`` weighs 10**12 although it takes little memory.
Everything raises ``jinja2.sandbox.SecurityError``, which the templating module reports as
"template refused by the sandbox: …".
"""

import functools
import operator
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from jinja2 import nodes
from jinja2.sandbox import SecurityError
from jinja2.utils import _PassArg

MAX_SEQUENCE = 100_000
MAX_EXPONENT = 1_000
# Integers beyond this many bits take long to multiply and cannot be printed anyway.
MAX_INT_BITS = 64_000
MAX_JSON_INDENT = 8
# One printf conversion of ``%``: its width and precision say how long the result may be.
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
LOOP_FILTER = "_loop_budget"
WEIGH_FILTER = "_weighed"


@dataclass
class _Budget:
    deadline: float
    chars_left: int


_budget: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


@contextmanager
def render_budget() -> Iterator[None]:
    """Run one render under TEMPLATE_MAX_RENDER_S and TEMPLATE_MAX_OUTPUT_CHARS."""
    budget = _Budget(
        time.monotonic() + settings.TEMPLATE_MAX_RENDER_S, settings.TEMPLATE_MAX_OUTPUT_CHARS
    )
    token = _budget.set(budget)
    try:
        yield
    finally:
        _budget.reset(token)


def tick() -> None:
    """Raise SecurityError once the current render's time is up."""
    budget = _budget.get()
    if budget is not None and time.monotonic() > budget.deadline:
        raise SecurityError(f"render took longer than {settings.TEMPLATE_MAX_RENDER_S:g} s")


def at_most(count: Any, most: int, what: str) -> None:
    if isinstance(count, int) and count > most:
        raise SecurityError(f"{what} {count} is over the limit of {most}")


def _limit(size: int) -> None:
    at_most(size, settings.TEMPLATE_MAX_OUTPUT_CHARS, "result size")


def weigh(value: Any) -> int:
    """About how many characters ``value`` prints as; raises SecurityError past
    TEMPLATE_MAX_OUTPUT_CHARS. The work is bounded by that limit however large the value is."""
    limit = settings.TEMPLATE_MAX_OUTPUT_CHARS
    total, pending, steps = 0, [value], 0
    while pending:
        item = pending.pop()
        steps += 1
        if steps % 4096 == 0:
            tick()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, dict):
            total += 2 + len(item)
            if total <= limit:
                pending.extend(item.keys())
                pending.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + len(item)
            if total <= limit:
                pending.extend(item)
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        else:
            total += 1
        if total > limit:
            raise SecurityError(f"value is larger than the output limit ({limit} chars)")
    return total


def weighed(value: Any) -> Any:
    weigh(value)
    return value


def finalize(value: Any) -> Any:
    """Every ``{{ … }}`` output passes here: it is weighed and paid for before it is printed."""
    tick()
    budget = _budget.get()
    if budget is not None:
        budget.chars_left -= weigh(value)
        if budget.chars_left < 0:
            limit = settings.TEMPLATE_MAX_OUTPUT_CHARS
            raise SecurityError(f"output is longer than {limit} chars")
    return value


def loop_budget(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        tick()
        yield item


def call_check(args: tuple[Any, ...], kwargs: dict[str, Any], *, counts: bool = True) -> None:
    """Before a call: its arguments are weighed and, with ``counts``, no integer argument may
    exceed the output limit (a width or a byte count is an allocation size)."""
    tick()
    weigh((args, kwargs))
    if counts:
        for argument in (*args, *kwargs.values()):
            at_most(argument, settings.TEMPLATE_MAX_OUTPUT_CHARS, "argument")


def binop(operator_name: str, left: Any, right: Any) -> Any:
    """``*``, ``**``, ``+`` and ``%``, refused before they build something too large."""
    tick()
    if operator_name == "**":
        if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"exponent {right} is too large")
        if isinstance(left, int) and isinstance(right, int) and right > 0:
            at_most(left.bit_length() * right, MAX_INT_BITS, "result bits")
        return operator.pow(left, right)
    if operator_name == "%":
        if isinstance(left, str):
            _printf_check(left)
        return operator.mod(left, right)
    if operator_name == "+":
        if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            _limit(weigh(left) + weigh(right))
        return operator.add(left, right)
    if isinstance(left, int) and isinstance(right, int):
        at_most(left.bit_length() + right.bit_length(), MAX_INT_BITS, "result bits")
    for sequence, times in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(times, int):
            at_most(weigh(sequence) * times, settings.TEMPLATE_MAX_OUTPUT_CHARS, "repetition size")
    return operator.mul(left, right)


def _printf_check(spec: str) -> None:
    """Refuse ``"%999999999d" % 1``: a printf width or precision is an allocation size."""
    total = len(spec)
    for match in _PRINTF_SPEC.finditer(spec):
        for number in match.groups():
            if number == "*":
                raise SecurityError("'*' widths are not allowed in % formatting")
            total += int(number or 0)
    at_most(total, settings.TEMPLATE_MAX_OUTPUT_CHARS, "formatted length")


def _replace_size(text: str, old: Any, new: Any, count: Any = None) -> int:
    hits = text.count(str(old)) if str(old) else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * len(str(new))


def bounded_replace(text: str, old: Any, new: Any, count: int = -1) -> str:
    """``str.replace`` that first checks the size of its result."""
    _limit(_replace_size(text, old, new, count))
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
    _limit(width if isinstance(width, int) else 0)
    return value


def _indent_check(value: Any, width: Any = 4, *_: Any, **__: Any) -> Any:
    text = str(value)
    unit = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    _limit(len(text) + _lines(text) * unit)
    return value


def _wordwrap_check(
    value: Any, width: Any = 79, long_words: Any = True, wrap: Any = None, *_: Any, **kwargs: Any
) -> Any:
    text, joiner = str(value), str(wrap or kwargs.get("wrapstring") or "\n")
    wraps = len(text) // max(width if isinstance(width, int) else 1, 1) + _lines(text)
    _limit(len(text) + wraps * len(joiner))
    return value


def _replace_check(value: Any, old: Any = "", new: Any = "", count: Any = None) -> Any:
    _limit(_replace_size(str(value), old, new, count))
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


def nodes_guard(template: nodes.Template) -> None:
    """Make a parsed template spend from the render's budget: each loop iteration ticks the
    clock, and each list, tuple or dict it writes and each ``~`` join is weighed."""
    for node in [template, *template.find_all(nodes.Node)]:
        for field in node.fields:
            value = getattr(node, field, None)
            if isinstance(value, list):
                setattr(node, field, [_weigh_node(item) for item in value])
            else:
                setattr(node, field, _weigh_node(value))
        if isinstance(node, nodes.For):
            node.iter = _filtered(node.iter, LOOP_FILTER)  # type: ignore[arg-type]


def _weigh_node(node: Any) -> Any:
    built = isinstance(node, nodes.List | nodes.Dict | nodes.Concat)
    if built or (isinstance(node, nodes.Tuple) and node.ctx == "load"):
        return _filtered(node, WEIGH_FILTER)
    return node


def _filtered(node: nodes.Expr, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)
