"""Waking workers: one mechanism for every kind of queued work (executions, alert deliveries,
orchestration runs).

The database row is the truth; a Celery message is only a nudge. For every kind the protocol is:

1. **Mark, then send after commit.** The write that makes a row due sets ``dispatched_at`` to
   ``dispatch_mark(now)`` — "on its way; not lost before this" — and ``Dispatcher.send``
   publishes the message once that transaction commits (no worker is ever woken for a row that
   was rolled back), then stamps the row with the time it was published, which the message
   carries too (``headers.sent_at``). A row the broker refused is unmarked at once, so the next
   sweep sends it; one whose process died between commit and publish is presumed lost once its
   mark has passed. The mark lies at least ``PUBLISH_WINDOW_S`` ahead: a long transaction, or
   the publishing of a thousand messages after it, must not make a row look lost before its
   message had a chance to leave.
2. **Claim conditionally.** The worker's claim is a conditional UPDATE (each kind has its own), so
   a duplicate message does nothing.
3. **Sweep only what is lost.** ``Dispatcher.sweep`` (Beat, on the control lane) re-sends a due,
   unclaimed row only when its latest message left the broker more than
   ``EXECUTION_REQUEUE_AFTER_S`` ago: it was sent before the oldest message still queued at
   that time (queues are first in, first out, and a row's stamp is its message's send time).
   A row waiting behind a deep backlog is left alone, and a re-sent row is not sent again until
   that message has left the queue too, so a burst costs one message per row, not one per sweep.
   Re-sent rows ride the control lane, ahead of the backlog.

Where the broker cannot tell the age of its oldest message (RabbitMQ), only rows that were never
sent, or whose queue is empty, are re-sent; RabbitMQ itself re-queues what a dead worker held.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from celery import current_app
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from workflows.broker import LaneState, bulk_lane, control_lane, lane_states
from workflows.models import BrokerWatermark

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500
# How long a live process may take from marking a row to publishing its message.
PUBLISH_WINDOW_S = 60.0
# Observations older than this are deleted: only the latest one past the grace matters.
WATERMARKS_KEPT_S = 600


def _watermark(lanes: list[LaneState], now: datetime) -> datetime | None:
    """Everything sent before the returned time has left the broker's lanes (queues are first
    in, first out): the oldest waiting message's send time, or now when nothing waits. None when
    a message of unknown age waits."""
    mark = now
    for lane in lanes:
        if lane.length == 0:
            continue
        if lane.oldest_sent_at is None:
            return None
        mark = min(mark, datetime.fromtimestamp(lane.oldest_sent_at, tz=UTC))
    return mark


def resend_cutoff(now: datetime) -> datetime | None:
    """Rows dispatched before the returned time had their message leave the broker at least
    ``EXECUTION_REQUEUE_AFTER_S`` ago, and no worker claimed them since: they are lost. None
    when nothing can be presumed lost (the broker cannot be read, or has not been watched for
    long enough).

    The grace counts from when a message left its queue, not from when it was sent: a message
    that waited a minute behind a backlog and was taken a moment ago is on its way to a claim.
    So the cutoff is the watermark a sweep saw at least the grace ago (never later than today's:
    a message put back in a queue lowers it). Observations are kept in the database, so every
    sweep — on any worker, or ``manage.py sweep`` — shares them.
    """
    try:
        lanes = lane_states()
    except Exception as exc:
        logger.warning("sweep: cannot read the broker (%s); only work never sent is re-sent", exc)
        return None
    current = _watermark(lanes, now)
    BrokerWatermark.objects.create(observed_at=now, watermark=current)
    BrokerWatermark.objects.filter(
        observed_at__lt=now - timedelta(seconds=WATERMARKS_KEPT_S)
    ).delete()
    grace_ago = now - timedelta(seconds=settings.EXECUTION_REQUEUE_AFTER_S)
    seen = BrokerWatermark.objects.filter(observed_at__lte=grace_ago).first()
    if seen is None or seen.watermark is None or current is None:
        return None
    return min(seen.watermark, current)


def dispatch_mark(now: datetime) -> datetime:
    """What ``dispatched_at`` says while a row's message is on its way to the broker: it is not
    presumed lost before this. Publishing replaces it with the time the message was sent."""
    return now + timedelta(seconds=max(settings.EXECUTION_REQUEUE_AFTER_S, PUBLISH_WINDOW_S))


def _sweep_lock(key: int) -> bool:
    """Hold this kind's sweep lock until the transaction ends; False when another sweep holds it.

    PostgreSQL: a transaction-level advisory lock. SQLite: write transactions are IMMEDIATE, so
    they already run one at a time.
    """
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [key])
        return bool(cursor.fetchone()[0])


@dataclass(frozen=True)
class Dispatcher:
    """How one kind of work reaches workers. ``lost(now)`` selects the rows a worker should be
    holding now (due and unclaimed, or held by a worker presumed dead)."""

    task: str
    model: type[models.Model]
    lost: Callable[[datetime], Q]
    lock_key: int

    def send(
        self, pk: int, *, marked: datetime, countdown: float | None = None, control: bool = False
    ) -> None:
        """Publish a message for row ``pk`` once the current transaction commits. ``marked`` is
        the ``dispatched_at`` the caller wrote: ``dispatch_mark(now)``, or with a ``countdown``
        the time the row falls due."""
        transaction.on_commit(partial(self._publish, pk, marked, countdown, control))

    def _publish(self, pk: int, marked: datetime, countdown: float | None, control: bool) -> None:
        sent_at = time.time()
        try:
            current_app.send_task(
                self.task,
                args=[pk],
                queue=control_lane() if control else bulk_lane(),
                countdown=countdown if countdown and countdown > 0 else None,
                headers={"sent_at": sent_at},
            )
        except Exception:
            # The broker is unreachable: the row stays due and the next sweep that can reach the
            # broker sends it (a delayed row keeps its due time as its mark).
            logger.warning("could not send %s %s to the broker", self.task, pk, exc_info=True)
            if countdown is None:
                self.model._default_manager.filter(pk=pk, dispatched_at=marked).update(
                    dispatched_at=None
                )
            return
        if countdown is None:
            # The row now says when its message entered the queue, as the message does; a
            # worker that claimed it meanwhile has cleared the mark, and keeps it cleared.
            self.model._default_manager.filter(pk=pk, dispatched_at=marked).update(
                dispatched_at=datetime.fromtimestamp(sent_at, tz=UTC)
            )

    def wake(self, ids: list[int], now: datetime, *, control: bool = False) -> None:
        """Mark rows dispatched now and send them, after commit."""
        marked = dispatch_mark(now)
        self.model._default_manager.filter(pk__in=ids).update(dispatched_at=marked)
        for pk in ids:
            self.send(pk, marked=marked, control=control)

    def unsent(self, cutoff: datetime | None) -> Q:
        """Rows whose latest message is lost: never sent, or gone since before ``cutoff``."""
        if cutoff is None:
            return Q(dispatched_at__isnull=True)
        return Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=cutoff)

    def sweep(
        self,
        *,
        now: datetime | None = None,
        more: Callable[[datetime, datetime | None], list[int]] | None = None,
    ) -> int:
        """Re-send the rows presumed lost; returns how many. ``more(now, cutoff)`` adds rows the
        kind selects itself (inside the same locked transaction)."""
        now = now or timezone.now()
        cutoff = resend_cutoff(now)
        with transaction.atomic():
            if not _sweep_lock(self.lock_key):
                return 0
            ids = list(
                self.model._default_manager.select_for_update(skip_locked=True)
                .filter(self.lost(now) & self.unsent(cutoff))
                .order_by("pk")
                .values_list("pk", flat=True)[:SWEEP_BATCH]
            )
            if more is not None:
                ids += more(now, cutoff)
            if ids:
                self.wake(ids, now, control=True)
        if ids:
            logger.info(
                "sweep re-sent %d %s messages (sent before %s, or never)",
                len(ids),
                self.task,
                cutoff.isoformat() if cutoff else "-",
            )
        return len(ids)
