"""A small explicit publish/subscribe list, so a lower layer can announce what happened without
importing the apps that react to it (they subscribe in ``AppConfig.ready``).

A subscriber that raises is logged and never disturbs the emitter or the other subscribers.
"""

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

Subscriber = Callable[..., None]


class Hooks:
    def __init__(self) -> None:
        self._subscribers: dict[str, list[Subscriber]] = defaultdict(list)

    def subscribe(self, event: str, subscriber: Subscriber) -> None:
        if subscriber not in self._subscribers[event]:
            self._subscribers[event].append(subscriber)

    def unsubscribe(self, event: str, subscriber: Subscriber) -> None:
        if subscriber in self._subscribers[event]:
            self._subscribers[event].remove(subscriber)

    def emit(self, event: str, **payload: Any) -> None:
        for subscriber in list(self._subscribers[event]):
            try:
                subscriber(**payload)
            except Exception:
                logger.exception("subscriber %r of %s failed", subscriber, event)


# Events of the integrations layer.
CONNECTION_VERIFIED = "connection.verified"
CONNECTION_FAILED = "connection.failed"
# A connection was created, edited or deleted, in the transaction that did it: ``connection_id``,
# ``name``, ``platform``, ``action`` (created, edited, deleted), ``changed`` (field names, never
# values) and ``by`` (who: the caller's request or actor, as it gave it; None when unknown).
CONNECTION_CHANGED = "connection.changed"

hooks = Hooks()
