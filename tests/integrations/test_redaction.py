"""Secrets are replaced wherever they would be written down."""

import logging
from io import StringIO

import pytest

from integrations import redaction
from integrations.redaction import (
    REDACTED,
    SecretsFilter,
    redact,
    secrets_of,
    secrets_register,
)
from tests.factories import ConnectionFactory

CANARY = "canary-0b7c51aa-log-secret"


def test_redact_replaces_secrets_deep_inside_values():
    value = {
        "error": f"auth failed for {CANARY}",
        "nested": [{"header": f"Bearer {CANARY}"}, 7, None],
        CANARY: ("a", CANARY),
    }
    assert redact(value, [CANARY]) == {
        "error": f"auth failed for {REDACTED}",
        "nested": [{"header": f"Bearer {REDACTED}"}, 7, None],
        REDACTED: ("a", REDACTED),
    }


def test_redact_catches_the_url_quoted_form():
    secret = "p@ss/word+1"
    assert redact("https://x.example/?pw=p%40ss%2Fword%2B1", [secret]) == (
        f"https://x.example/?pw={REDACTED}"
    )


def test_the_parts_of_a_secret_webhook_url_that_receivers_echo_are_redacted_alone():
    url = "https://n8n.example.com/webhook/8f3c2a90-token?key=k3y-0042"
    said = (
        'answered 404: {"message": "The requested webhook \\"POST 8f3c2a90-token\\" is not'
        ' registered.", "path": "/webhook/8f3c2a90-token", "key": "k3y-0042"}'
    )

    redacted = redact(said, [url])

    assert "8f3c2a90-token" not in redacted
    assert "k3y-0042" not in redacted
    assert "webhook" in redacted  # a word of the path is not a secret


def test_redact_replaces_a_longer_secret_before_a_shorter_one_inside_it():
    assert redact("token-abc-123", ["abc", "token-abc-123"]) == REDACTED


@pytest.mark.django_db
def test_secrets_of_a_connection_are_its_credential_strings_and_webhook_url():
    connection = ConnectionFactory(
        credentials={"signing_secret": "sec-1", "extra": {"key": "sec-2"}, "port": 25, "pin": "1"},
        webhook_url="https://hooks.example.com/x",
    )
    assert sorted(secrets_of(connection)) == ["https://hooks.example.com/x", "sec-1", "sec-2"]


def console_handler() -> logging.Handler:
    """The handler settings.LOGGING installs on the root logger."""
    return next(
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, SecretsFilter) for f in handler.filters)
    )


@pytest.fixture
def log_output():
    handler = console_handler()
    stream = StringIO()
    # Swapped in place: setStream would flush the old stream, which pytest may have closed.
    previous, handler.stream = handler.stream, stream  # type: ignore[attr-defined]
    yield stream
    handler.stream = previous  # type: ignore[attr-defined]


def test_the_configured_log_handler_redacts_registered_secrets(log_output):
    secrets_register([CANARY])
    logger = logging.getLogger("tests.integrations")
    logger.warning("calling with token %s", CANARY)
    logger.warning(f"inline {CANARY}")
    try:
        raise RuntimeError(f"boom {CANARY}")
    except RuntimeError:
        logger.exception("it failed")
    written = log_output.getvalue()
    assert "calling with token [redacted]" in written
    assert "RuntimeError: boom [redacted]" in written
    assert CANARY not in written


@pytest.mark.django_db
def test_a_secret_read_from_the_database_is_redacted_from_logs(log_output, monkeypatch):
    secret = "canary-loaded-from-db-93ac"
    stored = ConnectionFactory(credentials={"token": secret})
    monkeypatch.setattr(redaction, "_registry", set())  # as in a process that only reads it
    type(stored).objects.get(pk=stored.pk)
    logging.getLogger("tests.integrations").error("leaked %s", secret)
    assert secret not in log_output.getvalue()
