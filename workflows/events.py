"""The kernel's event hooks: apps above the kernel subscribe (in ``AppConfig.ready``) to hear
that an execution finished or a step failed, without the engine importing them.

Events are emitted after the transaction that caused them commits. A subscriber that raises is
logged and never disturbs the engine or the other subscribers.
"""

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

EXECUTION_FINISHED = "execution.finished"
STEP_FAILED = "step.failed"

Subscriber = Callable[..., None]
_subscribers: dict[str, list[Subscriber]] = defaultdict(list)


def subscribe(event: str, subscriber: Subscriber) -> None:
    if subscriber not in _subscribers[event]:
        _subscribers[event].append(subscriber)


def unsubscribe(event: str, subscriber: Subscriber) -> None:
    if subscriber in _subscribers[event]:
        _subscribers[event].remove(subscriber)


def emit(event: str, **payload: Any) -> None:
    for subscriber in list(_subscribers[event]):
        try:
            subscriber(**payload)
        except Exception:
            logger.exception("subscriber %r of %s failed", subscriber, event)
