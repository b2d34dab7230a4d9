"""Keeping secrets out of what the system writes down: API output, logs, step records, errors.

``redact`` replaces given secret values anywhere in a JSON-like value. A process-wide registry
holds every connection secret this process has decrypted or encrypted; ``SecretsFilter``, installed
on the log handlers in settings.LOGGING, redacts those from every log record.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlsplit

if TYPE_CHECKING:
    from integrations.models import IntegrationConnection

REDACTED = "[redacted]"
# Shorter values are not treated as secrets: replacing every "t" or "on" everywhere would ruin
# every message and hide nothing a reader could not guess.
SECRET_MIN_CHARS = 4
# A part of a secret URL (path segment, query value) shorter than this is not redacted alone.
URL_PART_MIN_CHARS = 6

_registry: set[str] = set()
_registry_lock = threading.Lock()


def secrets_of(connection: IntegrationConnection) -> list[str]:
    """Every string in the connection's credentials (at any depth) and its webhook URL, leaving
    out values shorter than SECRET_MIN_CHARS."""
    found = [text for text in _strings(connection.credentials) if len(text) >= SECRET_MIN_CHARS]
    if connection.webhook_url:
        found.append(connection.webhook_url)
    return found


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """Return ``value`` with every occurrence of each secret replaced by "[redacted]".

    Walks dicts (values and keys), lists and tuples; other non-string values come back unchanged.
    A secret is also matched in its URL-quoted form, as it appears inside query strings.
    """
    needles = _needles(secrets)
    if not needles:
        return value
    return _redact(value, needles)


def url_redacted(url: str) -> str:
    """``url`` as errors and logs may show it: no userinfo, every query value replaced by
    "[redacted]" (the names stay, to say which parameters were sent), no fragment.

    A query string is where APIs take keys (``?api_key=``, ``?token=``), and userinfo is a
    password; neither may reach a step error that plain users read, or a log line.
    """
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return "[malformed URL]"
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    names = [name for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    query = "&".join(f"{quote(name, safe='')}={REDACTED}" for name in names)
    shown = f"{parts.scheme}://{netloc}{parts.path}" if parts.scheme else parts.path
    return f"{shown}?{query}" if query else shown


def secrets_register(values: Iterable[str]) -> None:
    """Add secret values to the process-wide set that log records are redacted against."""
    fresh = {value for value in values if isinstance(value, str) and len(value) >= SECRET_MIN_CHARS}
    if fresh - _registry:
        with _registry_lock:
            _registry.update(fresh)


def secrets_registered() -> frozenset[str]:
    return frozenset(_registry)


class SecretsFilter(logging.Filter):
    """Redacts registered secrets from a record's message, arguments and exception text.

    The message is rendered once here (``msg % args``) so a secret passed as an argument is caught.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        needles = _needles(_registry)
        if not needles:
            return True
        record.msg = _redact(record.getMessage(), needles)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _redact(record.exc_text, needles)
        if record.stack_info:
            record.stack_info = _redact(record.stack_info, needles)
        return True


def _needles(secrets: Iterable[str]) -> list[str]:
    forms: set[str] = set()
    for secret in secrets:
        if isinstance(secret, str) and secret:
            forms.update(_forms(secret))
    return sorted(forms, key=len, reverse=True)  # a longer secret may contain a shorter one


@lru_cache(maxsize=4096)
def _forms(secret: str) -> frozenset[str]:
    """The secret, URL-quoted, and for a URL the parts a receiver echoes on their own: a
    webhook's path answers "Cannot POST /hooks/<token>", n8n's 404 quotes the webhook id."""
    forms = {secret, quote(secret, safe="")}
    parts = urlsplit(secret) if "://" in secret else None
    if parts is None or not parts.netloc:
        return frozenset(forms)
    if len(parts.path.strip("/")) >= URL_PART_MIN_CHARS:
        forms.add(parts.path)
    values = [*parts.path.split("/"), *(value for _, value in parse_qsl(parts.query))]
    if parts.password:
        values.append(parts.password)
    forms.update(value for value in values if _looks_secret(value))
    return frozenset(forms)


def _looks_secret(part: str) -> bool:
    """Long, or shorter with a digit in it: an id or token, not a word like "webhooks"."""
    return len(part) >= 16 or (len(part) >= URL_PART_MIN_CHARS and any(c.isdigit() for c in part))


def _redact(value: Any, needles: list[str]) -> Any:
    if isinstance(value, str):
        for needle in needles:
            if needle in value:
                value = value.replace(needle, REDACTED)
        return value
    if isinstance(value, dict):
        return {_redact(key, needles): _redact(item, needles) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact(item, needles) for item in value)
    return value


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
