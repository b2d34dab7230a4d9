"""Waking a worker for an execution. The database row is the truth; the message is only a nudge,
sent after the transaction commits. A lost message is re-sent by the sweep."""

import logging

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)

RUN_EXECUTION_TASK = "workflows.run_execution"


def _send(execution_id: int, countdown: float | None) -> None:
    try:
        current_app.send_task(
            RUN_EXECUTION_TASK,
            args=[execution_id],
            countdown=countdown if countdown and countdown > 0 else None,
        )
    except Exception:
        # The broker is unreachable. The execution stays queued and the sweep re-sends it.
        logger.warning("could not send execution %s to the broker", execution_id, exc_info=True)


def execution_dispatch(execution_id: int, *, countdown: float | None = None) -> None:
    """Send the execution to a worker once the current transaction commits."""
    transaction.on_commit(lambda: _send(execution_id, countdown))
