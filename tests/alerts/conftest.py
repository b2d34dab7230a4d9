"""Fixtures for the alerts tests: the broker edge is replaced by a list of what would be sent."""

import hashlib
import hmac

import pytest

from alerts.services.deliveries import DELIVER_TASK
from workflows.dispatch import Dispatcher

SIGNING_SECRET = "whsec-alerts-4f1b2c9d"


@pytest.fixture
def sent_deliveries(monkeypatch) -> list[tuple[int, float | None]]:
    """(delivery id, countdown) of every alerts.deliver message, instead of sending it; the
    engine's own wake-up messages are dropped (these tests run executions in-process)."""
    sent: list[tuple[int, float | None]] = []

    def publish(
        dispatcher: Dispatcher, pk: int, marked: object, countdown: float | None, control: bool
    ) -> None:
        if dispatcher.task == DELIVER_TASK:
            sent.append((pk, countdown))

    monkeypatch.setattr(Dispatcher, "_publish", publish)
    return sent


@pytest.fixture
def fast_retries(settings) -> None:
    settings.ALERT_DELIVERY_MAX_ATTEMPTS = 3
    settings.ALERT_DELIVERY_BACKOFF_S = 0.05
    settings.ALERT_DELIVERY_BACKOFF_MAX_S = 1.0


def expected_signature(secret: str, header: str, body: bytes) -> tuple[str, str]:
    """(given v1, HMAC we compute ourselves) for an ``X-Signature: t=…,v1=…`` header."""
    parts = dict(part.split("=", 1) for part in header.split(","))
    signed = parts["t"].encode() + b"." + body
    return parts["v1"], hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


FAILING_ACTIONS = [
    {"id": "fetch", "type": "api_call", "params": {"url": "http://10.255.255.1/feed"}},
]


@pytest.fixture
def run_execution(django_capture_on_commit_callbacks):
    """Create and run an execution in-process, then run what was deferred to commit (the
    engine's events, and with them the alert subscribers)."""
    from workflows.engine import execution_run
    from workflows.services.executions import execution_create

    def run(workflow, payload=None):
        with django_capture_on_commit_callbacks(execute=True):
            execution, _ = execution_create(
                workflow=workflow, trigger_type="manual", payload=payload or {}
            )
            execution_run(execution_id=execution.pk, worker="test")
        execution.refresh_from_db()
        return execution

    return run


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """One attempt at a delivery, ``after_s`` seconds from now; what it defers to commit (the
    wake-up for its next attempt) runs too. Returns the delivery's status or None."""
    from datetime import timedelta

    from django.utils import timezone

    from alerts.services.deliveries import delivery_attempt

    def attempt(delivery_id: int, after_s: float = 0) -> str | None:
        with django_capture_on_commit_callbacks(execute=True):
            return delivery_attempt(
                delivery_id=delivery_id, now=timezone.now() + timedelta(seconds=after_s)
            )

    return attempt
