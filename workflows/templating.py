"""Sandboxed Jinja2 templating for action params and conditions.

Templates are written by staff but treated as untrusted: they render in an immutable sandbox where
``attr``, ``format``, ``str.format`` and ``str.format_map`` are unavailable, and every render runs
on a budget (``workflows.template_limits``): a deadline checked on every loop iteration and call,
and a size limit on every value it builds or prints, checked before anything large is allocated.
The context holds plain data only (dicts, lists, strings, numbers), and what a template produces is
never rendered again: trigger payloads and HTTP responses stay data.

A string that is exactly one ``{{ expression }}`` keeps the expression's type, so
``"{{ steps.fetch.body.count }}"`` renders to the number, not its text.
"""

import functools
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from django.conf import settings
from jinja2 import ChainableUndefined, StrictUndefined, TemplateSyntaxError, nodes
from jinja2 import exceptions as jinja_exceptions
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from workflows import template_limits as limits
from workflows import template_sizes as sizes

_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*$", re.DOTALL)
# str.format and format_map reach attributes of their arguments; mro walks the class tree; bytes
# (encode, to_bytes) would bring a second string type with its own unbounded methods; expandtabs
# and translate grow a string by a factor no argument shows.
_BLOCKED_ATTRIBUTES = frozenset(
    {"format", "format_map", "mro", "encode", "to_bytes", "from_bytes", "expandtabs", "translate"}
)
# String methods whose result size their arguments tell: checked before they run.
_STR_BOUNDED: dict[str, Callable[..., str]] = {
    "replace": sizes.bounded_replace,
    "join": sizes.bounded_join,
}


class TemplateError(Exception):
    """A template that does not compile, or failed to render. The message says why."""


class _MissingValue(TemplateError):
    """The template used a value the context does not have."""


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with a render budget (``workflows.template_limits``)."""

    intercepted_binops = frozenset(["*", "**", "+", "%"])

    def __init__(self, undefined: type) -> None:
        super().__init__(
            undefined=undefined,
            autoescape=False,
            keep_trailing_newline=True,
            finalize=limits.finalize,
        )
        # attr reaches any attribute by name; format is printf with any width; lipsum writes as
        # many paragraphs as asked.
        del self.filters["attr"], self.filters["format"], self.globals["lipsum"]
        self.filters.update(sizes.filters_bounded(self.filters))

    def _generate(
        self,
        source: nodes.Template,
        name: str | None,
        filename: str | None,
        defer_init: bool = False,
    ) -> str:
        limits.nodes_guard(source)
        return super()._generate(source, name, filename, defer_init=defer_init)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        # range counts, it allocates nothing per unit, and has its own limit (MAX_RANGE).
        limits.call_check(args, kwargs, counts=__obj is not __self.globals["range"])
        return limits.weighed(super().call(__context, __obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Data first: ``body.items`` is the "items" key of a JSON object, not dict.items.
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        if attribute in _BLOCKED_ATTRIBUTES:
            return self.unsafe_undefined(obj, attribute)
        if isinstance(obj, str) and attribute in _STR_BOUNDED:
            return functools.partial(_STR_BOUNDED[attribute], obj)
        return super().getattr(obj, attribute)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # Refused at once: an undefined would read as false in a condition and hide the attempt.
        kind = type(obj).__name__
        raise SecurityError(f"access to attribute {attribute!r} of {kind!r} object is unsafe")

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(argument, str) and argument in _BLOCKED_ATTRIBUTES:
            if isinstance(obj, dict) and argument in obj:
                return obj[argument]
            return self.unsafe_undefined(obj, argument)
        return super().getitem(obj, argument)

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        return limits.binop(operator_name, left, right)


_strict = _Sandbox(StrictUndefined)
_lenient = _Sandbox(ChainableUndefined)


def _describe(exc: Exception) -> str:
    if isinstance(exc, TemplateSyntaxError):
        return f"template syntax error on line {exc.lineno}: {exc.message}"
    if isinstance(exc, SecurityError):
        return f"template refused by the sandbox: {exc}"
    if isinstance(exc, jinja_exceptions.UndefinedError):
        return f"template refers to an undefined value: {exc.message}"
    return f"template failed: {type(exc).__name__}: {exc}"


def _check_size(source: str) -> None:
    if len(source) > settings.TEMPLATE_MAX_SOURCE_CHARS:
        raise TemplateError(f"template is longer than {settings.TEMPLATE_MAX_SOURCE_CHARS} chars")


@lru_cache(maxsize=4096)
def _compile(source: str, strict: bool) -> Callable[[Mapping[str, Any]], Any]:
    """Compile once per distinct source: a single expression keeps its type, else a string."""
    env = _strict if strict else _lenient
    match = _SINGLE_EXPRESSION.match(source)
    if match and "{{" not in match["expr"] and "}}" not in match["expr"]:
        expression = env.compile_expression(match["expr"], undefined_to_none=False)
        return lambda context: _plain(expression(**context))
    template = env.from_string(source)

    def render(context: Mapping[str, Any]) -> str:
        limit = settings.TEMPLATE_MAX_OUTPUT_CHARS
        size, parts = 0, []
        for chunk in template.generate(context):
            size += len(chunk)
            if size > limit:
                raise SecurityError(f"output is longer than {limit} chars")
            parts.append(chunk)
        return "".join(parts)

    return render


def _plain(value: Any) -> Any:
    """A strict undefined fails; a lenient one becomes None; a range becomes a list; a value
    over the output limit is refused like printed output would be."""
    if isinstance(value, StrictUndefined):
        value._fail_with_undefined_error()
    if isinstance(value, ChainableUndefined):
        return None
    if isinstance(value, range):
        return list(value)
    return limits.weighed(value)


# What a template can raise besides Jinja's own errors: bad operands, and nesting or recursion
# deeper than Python allows (RecursionError is a RuntimeError; MemoryError is its own kind).
_RENDER_FAILURES = (
    ArithmeticError,
    TypeError,
    ValueError,
    LookupError,
    AttributeError,
    RecursionError,
    MemoryError,
    SyntaxError,
)


def _run(source: str, strict: bool, context: Mapping[str, Any]) -> Any:
    """Compile (cached) and render ``source`` on a fresh budget; raises TemplateError."""
    try:
        with limits.render_budget():
            return _compile(source, strict)(context)
    except jinja_exceptions.UndefinedError as exc:
        raise _MissingValue(_describe(exc)) from None
    except (jinja_exceptions.TemplateError, SecurityError) as exc:
        raise TemplateError(_describe(exc)) from None
    except _RENDER_FAILURES as exc:
        raise TemplateError(_describe(exc)) from None


def has_template(value: str) -> bool:
    return "{{" in value or "{%" in value or "{#" in value


def template_check(source: str) -> None:
    """Raise TemplateError when ``source`` is too long or does not compile."""
    _check_size(source)
    try:
        _compile(source, True)
    except (jinja_exceptions.TemplateError, SecurityError) as exc:
        raise TemplateError(_describe(exc)) from None
    except (RecursionError, MemoryError, SyntaxError) as exc:
        # Nesting deeper than Python's compiler or Jinja's parser can follow.
        raise TemplateError(f"template nests too deeply ({type(exc).__name__})") from None


def template_render(source: str, context: Mapping[str, Any]) -> Any:
    """Render one string. Plain strings come back untouched; raises TemplateError."""
    if not has_template(source):
        return source
    _check_size(source)
    return _run(source, True, context)


def params_render(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every string inside ``value`` (dicts, lists) once; keys are not rendered."""
    if isinstance(value, str):
        return template_render(value, context)
    if isinstance(value, dict):
        return {key: params_render(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [params_render(item, context) for item in value]
    return value


def params_check(value: Any, path: str = "") -> dict[str, str]:
    """Compile every template inside ``value``; returns {dotted path: error} for the bad ones."""
    errors: dict[str, str] = {}
    if isinstance(value, str) and has_template(value):
        try:
            template_check(value)
        except TemplateError as exc:
            errors[path] = str(exc)
    elif isinstance(value, dict):
        for key, item in value.items():
            errors.update(params_check(item, f"{path}.{key}" if path else str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            errors.update(params_check(item, f"{path}.{index}" if path else str(index)))
    return errors


def _condition_source(expression: str) -> str:
    return "{{ " + expression + " }}"


def condition_check(expression: str) -> None:
    """Raise TemplateError when a condition is not one valid Jinja2 expression."""
    _check_size(expression)
    try:
        parsed = _lenient.parse(_condition_source(expression))
    except TemplateSyntaxError as exc:
        raise TemplateError(_describe(exc)) from None
    except (RecursionError, MemoryError) as exc:
        raise TemplateError(f"condition nests too deeply ({type(exc).__name__})") from None
    body = parsed.body
    if len(body) != 1 or not isinstance(body[0], nodes.Output) or len(body[0].nodes) != 1:
        raise TemplateError("a condition must be a single expression")
    try:
        _compile(_condition_source(expression), False)
    except (jinja_exceptions.TemplateError, SecurityError) as exc:
        raise TemplateError(_describe(exc)) from None
    except (RecursionError, MemoryError, SyntaxError) as exc:
        raise TemplateError(f"condition nests too deeply ({type(exc).__name__})") from None


def condition_evaluate(expression: str, context: Mapping[str, Any]) -> bool:
    """Evaluate a condition; a missing value is falsy rather than an error."""
    condition_check(expression)
    try:
        return bool(_run(_condition_source(expression), False, context))
    except _MissingValue:
        return False
