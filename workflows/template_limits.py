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

import operator
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from jinja2 import nodes
from jinja2.sandbox import SecurityError

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


def output_limit(size: int) -> None:
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
            output_limit(weigh(left) + weigh(right))
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
