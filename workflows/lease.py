"""The lease of a running execution, renewed by a heartbeat thread while the worker runs it.

A worker that stops heartbeating — killed, paused with SIGSTOP, cut off from the database — lets
its lease expire, and the sweep hands the execution to another worker. Renewal is fenced on the
attempt number like every other write, so a superseded worker cannot extend a lease it lost.
"""

import logging
import threading
import time
from datetime import timedelta
from types import TracebackType

from django.conf import settings
from django.db import connection
from django.utils import timezone

from workflows.models import AutomationExecution, ExecutionStatus

logger = logging.getLogger(__name__)


class LeaseKeeper:
    """Context manager: the lease of one running attempt is renewed every EXECUTION_LEASE_S / 3
    until the block exits. The renewals are made by the process's heartbeat thread."""

    def __init__(self, execution_id: int, attempt: int) -> None:
        self.execution_id = execution_id
        self.attempt = attempt

    def __enter__(self) -> "LeaseKeeper":
        _heartbeat.hold(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _heartbeat.release(self)

    def renew(self) -> bool:
        """Push the lease forward; False when this attempt no longer owns the execution."""
        until = timezone.now() + timedelta(seconds=settings.EXECUTION_LEASE_S)
        return bool(
            AutomationExecution.objects.filter(
                pk=self.execution_id, attempt=self.attempt, status=ExecutionStatus.RUNNING
            ).update(lease_expires_at=until)
        )

    def _lost(self) -> None:
        """The renewal matched nothing: the run ended (a retry, a pause, the finish) between two
        beats — nothing to say — or another attempt took the execution over."""
        attempt = (
            AutomationExecution.objects.filter(pk=self.execution_id)
            .values_list("attempt", flat=True)
            .first()
        )
        if attempt is not None and attempt != self.attempt:
            logger.warning(
                "execution %s attempt %s lost its lease to attempt %s",
                self.execution_id,
                self.attempt,
                attempt,
            )


class _Heartbeat:
    """One thread per process renews every lease held in it, each when it falls due. Holding and
    releasing a lease is a dictionary write: most runs end before their first renewal, and a
    thread started and joined per run cost more than the run's own Python work. The thread uses
    the database only to renew, and closes its connection once no lease is held."""

    # How long a release waits for a renewal of its lease that is under way (one UPDATE by
    # primary key); bounded, as an eager run's caller may hold the row's lock.
    RELEASE_WAIT_S = 5.0

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._due: dict[LeaseKeeper, float] = {}  # keeper -> next renewal (monotonic)
        self._renewing: LeaseKeeper | None = None
        self._thread: threading.Thread | None = None
        self._wake_at = 0.0
        self._wake = threading.Event()

    def hold(self, keeper: LeaseKeeper) -> None:
        with self._lock:
            due = self._due[keeper] = time.monotonic() + self._interval()
            if self._thread is None or not self._thread.is_alive():  # also after a fork
                self._wake_at = due
                self._thread = threading.Thread(target=self._run, name="lease-heartbeat")
                self._thread.daemon = True
                self._thread.start()
            elif due < self._wake_at:  # only when the lease is shorter than the thread's sleep
                self._wake.set()

    def release(self, keeper: LeaseKeeper) -> None:
        """Stop renewing; once this returns, no renewal of this lease lands any more."""
        with self._lock:
            self._due.pop(keeper, None)
            self._lock.wait_for(lambda: self._renewing is not keeper, self.RELEASE_WAIT_S)

    @staticmethod
    def _interval() -> float:
        return float(settings.EXECUTION_LEASE_S) / 3

    def _run(self) -> None:
        connected = False
        while True:
            now = time.monotonic()
            with self._lock:
                due = [keeper for keeper, at in self._due.items() if at <= now]
            for keeper in due:
                with self._lock:
                    if keeper not in self._due:
                        continue  # released since
                    self._renewing = keeper
                connected = True
                try:
                    self._beat(keeper)
                finally:
                    with self._lock:
                        self._renewing = None
                        self._lock.notify_all()
            with self._lock:
                idle = not self._due
                now = time.monotonic()
                self._wake_at = min(self._due.values(), default=now + self._interval())
                sleep = min(max(self._wake_at - now, 0.01), self._interval())
            if idle and connected:
                connection.close()
                connected = False
            self._wake.wait(sleep)
            self._wake.clear()

    def _beat(self, keeper: LeaseKeeper) -> None:
        try:
            renewed = keeper.renew()
        except Exception:
            # A database hiccup: reconnect on the next beat; the lease has slack for it.
            connection.close()
            logger.warning(
                "lease renewal of execution %s failed", keeper.execution_id, exc_info=True
            )
            renewed = True
        with self._lock:
            if keeper not in self._due:
                return  # released meanwhile: the run ended
            if renewed:
                self._due[keeper] = time.monotonic() + self._interval()
                return
            del self._due[keeper]
        keeper._lost()


_heartbeat = _Heartbeat()
