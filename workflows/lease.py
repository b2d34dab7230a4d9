"""The lease of a running execution, renewed by a heartbeat thread while the worker runs it.

A worker that stops heartbeating — killed, paused with SIGSTOP, cut off from the database — lets
its lease expire, and the sweep hands the execution to another worker. Renewal is fenced on the
attempt number like every other write, so a superseded worker cannot extend a lease it lost.
"""

import logging
import threading
from datetime import timedelta
from types import TracebackType

from django.conf import settings
from django.db import connection
from django.utils import timezone

from workflows.models import AutomationExecution, ExecutionStatus

logger = logging.getLogger(__name__)


class LeaseKeeper:
    """Context manager: renews the lease every EXECUTION_LEASE_S / 3 until the block exits."""

    def __init__(self, execution_id: int, attempt: int) -> None:
        self.execution_id = execution_id
        self.attempt = attempt
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"lease-{execution_id}", daemon=True
        )

    def __enter__(self) -> "LeaseKeeper":
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def renew(self) -> bool:
        """Push the lease forward; False when this attempt no longer owns the execution."""
        until = timezone.now() + timedelta(seconds=settings.EXECUTION_LEASE_S)
        return bool(
            AutomationExecution.objects.filter(
                pk=self.execution_id, attempt=self.attempt, status=ExecutionStatus.RUNNING
            ).update(lease_expires_at=until)
        )

    def _beat(self) -> None:
        interval = settings.EXECUTION_LEASE_S / 3
        try:
            while not self._stop.wait(interval):
                try:
                    if not self.renew():
                        self.lost = True
                        logger.warning(
                            "execution %s attempt %s lost its lease",
                            self.execution_id,
                            self.attempt,
                        )
                        return
                except Exception:
                    # A database hiccup: reconnect on the next beat; the lease has slack for it.
                    connection.close()
                    logger.warning(
                        "lease renewal of execution %s failed", self.execution_id, exc_info=True
                    )
        finally:
            connection.close()
