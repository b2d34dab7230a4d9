"""Waking a worker for a delivery. The database row is the truth (status, due time); the message
is only a nudge, sent after the transaction commits. A lost message is re-sent by the sweep."""

import logging

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)

DELIVER_TASK = "alerts.deliver"


def _send(delivery_id: int, countdown: float | None) -> None:
    try:
        current_app.send_task(
            DELIVER_TASK,
            args=[delivery_id],
            countdown=countdown if countdown and countdown > 0 else None,
        )
    except Exception:
        # The broker is unreachable. The delivery stays pending and the sweep re-sends it.
        logger.warning("could not send delivery %s to the broker", delivery_id, exc_info=True)


def delivery_dispatch(delivery_id: int, *, countdown: float | None = None) -> None:
    """Send the delivery to a worker once the current transaction commits."""
    transaction.on_commit(lambda: _send(delivery_id, countdown))
