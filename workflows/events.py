"""The kernel's events: apps above the kernel subscribe (in ``AppConfig.ready``) to hear that an
execution finished or a step failed, without the engine importing them.

- ``execution.finished``: execution_id, workflow_id, status, error, execution_time_ms (active),
  wall_time_ms
- ``step.failed``: execution_id, workflow_id, step_id, step_type, error

Durable (an outbox): ``event_record`` writes the event (a ``KernelEvent`` row) in the transaction
of the state change that causes it. Once that commits, the subscribers get it in a transaction
of their own, which also marks it processed, so what a subscriber writes is written once. A
subscriber that raises rolls its own writes back and leaves the event pending, with the error on
the row; the sweep hands pending events over again. After ``EVENT_MAX_ATTEMPTS`` an event is
given up, loudly. A crash between the commit and the subscribers loses nothing.

A subscriber may say, cheaply, whether it could act on an event (``listening``): an event that
no subscriber listens to is not recorded at all, so an execution that no alert rule hears costs
one read instead of an outbox row and a transaction to process it.
"""

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from workflows.models import KernelEvent

logger = logging.getLogger(__name__)

EXECUTION_FINISHED = "execution.finished"
STEP_FAILED = "step.failed"
EVENT_MAX_ATTEMPTS = 10
# Pending events younger than this are left to the process that recorded them.
SWEEP_AFTER_S = 5.0
SWEEP_BATCH = 500

Subscriber = Callable[..., None]
Listening = Callable[..., bool]
_subscribers: dict[str, list[Subscriber]] = defaultdict(list)
# A subscriber's ``listening(**payload)``; one without it hears every event it subscribed to.
_listening: dict[Subscriber, Listening] = {}


def subscribe(name: str, subscriber: Subscriber, *, listening: Listening | None = None) -> None:
    if subscriber not in _subscribers[name]:
        _subscribers[name].append(subscriber)
    if listening is not None:
        _listening[subscriber] = listening


def unsubscribe(name: str, subscriber: Subscriber) -> None:
    if subscriber in _subscribers[name]:
        _subscribers[name].remove(subscriber)


def _heard(name: str, payload: dict[str, Any]) -> bool:
    return any(
        subscriber not in _listening or _listening[subscriber](**payload)
        for subscriber in _subscribers.get(name, ())
    )


def event_record(name: str, **payload: Any) -> None:
    """Record the event in the current transaction, when a subscriber listens; subscribers hear
    it after commit."""
    if not _heard(name, payload):
        return
    event = KernelEvent.objects.create(name=name, payload=payload)
    transaction.on_commit(partial(event_process, event_id=event.pk))


def event_process(*, event_id: int) -> bool:
    """Hand one pending event to its subscribers; True when it is processed now."""
    try:
        with transaction.atomic():
            event = (
                KernelEvent.objects.select_for_update(skip_locked=True)
                .filter(pk=event_id, processed_at__isnull=True)
                .first()
            )
            if event is None:
                return False  # processed already, or being processed elsewhere
            for subscriber in list(_subscribers[event.name]):
                subscriber(**event.payload)
            KernelEvent.objects.filter(pk=event_id).update(
                processed_at=timezone.now(), attempts=F("attempts") + 1, last_error=""
            )
    except Exception as exc:
        _failed(event_id, exc)
        return False
    return True


def _failed(event_id: int, exc: Exception) -> None:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    KernelEvent.objects.filter(pk=event_id).update(attempts=F("attempts") + 1, last_error=error)
    event = KernelEvent.objects.filter(pk=event_id).values("name", "attempts").first()
    if event is not None and event["attempts"] >= EVENT_MAX_ATTEMPTS:
        KernelEvent.objects.filter(pk=event_id).update(processed_at=timezone.now())
        logger.error(
            "event %s (%s) given up after %s attempts: %s",
            event_id,
            event["name"],
            event["attempts"],
            error,
        )
    else:
        logger.exception("a subscriber of event %s failed; the sweep tries again", event_id)


def events_sweep(*, now: datetime | None = None) -> int:
    """Hand over the events whose subscribers have not had them (the process that recorded them
    died, or a subscriber failed). Returns how many were processed."""
    before = (now or timezone.now()) - timedelta(seconds=SWEEP_AFTER_S)
    pending = (
        KernelEvent.objects.filter(processed_at__isnull=True, created_at__lt=before)
        .order_by("pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    return sum(event_process(event_id=event_id) for event_id in list(pending))
