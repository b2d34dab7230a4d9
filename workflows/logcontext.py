"""Which execution a log line belongs to: context variables, the filter that puts them on every
log record, and the two formatters settings.LOGGING chooses between (LOG_FORMAT).

The engine sets ``execution_id``, ``workflow_id`` and ``attempt`` (the execution's claim number,
the API's ``attempt``) around a run, and ``step_id`` and ``step_attempt`` (the step's try number)
around each step. ``LogContextFilter`` copies whatever is set onto each record, so every line
logged while an execution runs — by the engine, an action, the outbound client — names its run.
Context variables do not follow a thread the run starts (the lease heartbeat, an orchestration
pool); those lines name the execution in their message instead.

Formatters write only the message, the context fields and the exception: never a record's
``extra`` fields, which the secrets filter does not look at.
"""

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

FIELDS = ("execution_id", "workflow_id", "step_id", "attempt", "step_attempt")

_vars: dict[str, ContextVar[Any]] = {name: ContextVar(name, default=None) for name in FIELDS}


def log_context_set(**fields: Any) -> None:
    """Set context fields until the enclosing ``log_context`` block ends."""
    for name, value in fields.items():
        _vars[name].set(value)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Set context fields for the block; on leaving it, every field is back to what it was
    before, including those set inside with ``log_context_set``."""
    saved = {name: var.get() for name, var in _vars.items()}
    log_context_set(**fields)
    try:
        yield
    finally:
        for name, value in saved.items():
            _vars[name].set(value)


def log_context_current() -> dict[str, Any]:
    """The fields set now (unset ones left out)."""
    values = {name: var.get() for name, var in _vars.items()}
    return {name: value for name, value in values.items() if value is not None}


class LogContextFilter(logging.Filter):
    """Adds the context fields to each record (None when unset); a value the caller passed in
    ``extra`` is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _vars.items():
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True


def _context_of(record: logging.LogRecord) -> dict[str, Any]:
    values = {name: getattr(record, name, None) for name in FIELDS}
    return {name: value for name, value in values.items() if value is not None}


class PlainFormatter(logging.Formatter):
    """Human-readable lines: the format string, then the context fields as ``name=value``."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        context = _context_of(record)
        if not context:
            return line
        return line + " [" + " ".join(f"{name}={value}" for name, value in context.items()) + "]"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
    ``process``, the context fields that are set, and ``exception`` / ``stack`` when present."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
            **_context_of(record),
        }
        # The secrets filter may already have rendered (and redacted) the exception text.
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)
