"""Sending deliveries: one attempt at a time, with bounded retries and exponential backoff.

Like the engine, the database holds each delivery's due time (``next_attempt_at``); short waits
ride on a broker countdown, longer ones are sent by the sweep. A worker sending a delivery holds
it for ALERT_DELIVERY_LEASE_S (``locked_until``) and its result is recorded only if the attempt
is still its own, so a redelivered message never sends the same delivery twice at once. Every
attempt is logged on the delivery (``attempt_log``). Nothing here touches the execution.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from alerts.channel_registry import channel_get
from alerts.channels.base import SendResult, Target
from alerts.messages import message_compose
from alerts.models import AlertDelivery, AutomationAlert, DeliveryStatus
from alerts.secrets import alert_redact
from integrations.crypto import DecryptionError
from workflows.dispatch import Dispatcher, dispatch_mark
from workflows.retry import backoff_s

logger = logging.getLogger(__name__)

ERROR_MAX_CHARS = 2000
DELIVER_TASK = "alerts.deliver"


def _lost(now: datetime) -> Q:
    """Pending deliveries that are due and that no worker holds."""
    return (
        Q(status=DeliveryStatus.PENDING)
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        & (Q(locked_until__isnull=True) | Q(locked_until__lt=now))
    )


DELIVERIES = Dispatcher(task=DELIVER_TASK, model=AlertDelivery, lost=_lost, lock_key=0x5717EEA)


def delivery_backoff_s(attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    return backoff_s(
        attempt,
        delay_s=settings.ALERT_DELIVERY_BACKOFF_S,
        max_delay_s=settings.ALERT_DELIVERY_BACKOFF_MAX_S,
    )


def delivery_schedule(*, delivery_id: int, due: datetime, now: datetime) -> None:
    """Make the delivery due at ``due`` and wake a worker then: by a broker countdown when the
    wait is short, else through the sweep (broker ETAs past the visibility timeout duplicate)."""
    wait = max(0.0, (due - now).total_seconds())
    if wait > settings.RETRY_COUNTDOWN_MAX_S:
        AlertDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=due, dispatched_at=None)
        return
    marked = due if wait else dispatch_mark(now)
    AlertDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=due, dispatched_at=marked)
    DELIVERIES.send(delivery_id, marked=marked, countdown=wait)


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> str | None:
    """Send the delivery if it is pending, due and not held by another worker; record the result.

    Returns the delivery's status afterwards, or None when there was nothing to do.
    """
    now = now or timezone.now()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        return None
    if delivery.attempts > settings.ALERT_DELIVERY_MAX_ATTEMPTS:
        result = SendResult(False, None, "gave up: the worker sending it was lost mid-attempt")
    else:
        result = _send(delivery)
    return _conclude(delivery, result, now)


def delivery_sweep(*, now: datetime | None = None) -> int:
    """Send the due deliveries whose message is gone: long waits, lost messages, dead workers
    (workflows/dispatch.py says which count as lost). Returns how many were sent."""
    return DELIVERIES.sweep(now=now)


def _claim(delivery_id: int, now: datetime) -> AlertDelivery | None:
    """Take the delivery for one attempt: close its fold window and hold it for the lease."""
    with transaction.atomic():
        delivery = (
            AlertDelivery.objects.select_for_update()
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING)
            .first()
        )
        if delivery is None:
            return None
        if delivery.next_attempt_at and delivery.next_attempt_at > now:
            # Early (a duplicate message or clock skew): the sweep sends it once it is due.
            AlertDelivery.objects.filter(pk=delivery_id).update(dispatched_at=None)
            return None
        if delivery.locked_until and delivery.locked_until > now:
            return None  # another worker is sending it
        delivery.attempts += 1
        delivery.is_open = False  # from here on, repeats open a new window
        lease = timedelta(seconds=settings.ALERT_DELIVERY_LEASE_S)
        AlertDelivery.objects.filter(pk=delivery_id).update(
            attempts=delivery.attempts, is_open=False, locked_until=now + lease
        )
    delivery.alert = AutomationAlert.objects.get(pk=delivery.alert_id)
    return delivery


def _send(delivery: AlertDelivery) -> SendResult:
    alert = delivery.alert
    message = message_compose(
        payload=delivery.payload, count=delivery.folded_count, window_s=alert.throttle_s
    )
    try:
        target = Target(connection=alert.connection, recipients=list(alert.recipients or []))
    except DecryptionError as exc:
        return SendResult(False, None, f"connection {alert.connection_id}: {exc}")
    try:
        return channel_get(alert.channel).send(target, message)
    except Exception:  # a broken channel must not leave the delivery held until the lease
        logger.exception("alert channel %s crashed on delivery %s", alert.channel, delivery.pk)
        return SendResult(False, None, f"internal error in the {alert.channel} channel", True)


def _conclude(delivery: AlertDelivery, result: SendResult, now: datetime) -> str | None:
    """Record the attempt's outcome, if the attempt is still this worker's."""
    alert = delivery.alert
    detail = str(alert_redact(result.detail, connection_id=alert.connection_id))[:ERROR_MAX_CHARS]
    attempt = delivery.attempts
    entry = {
        "attempt": attempt,
        "at": now.isoformat(),
        "ok": result.ok,
        "response_code": result.status,
        "detail": detail,
        "retryable": result.retryable,
    }
    fields: dict[str, Any] = {
        "attempt_log": [*delivery.attempt_log, entry],
        "response_code": result.status,
        "error": "" if result.ok else detail,
        "locked_until": None,
    }
    retry = not result.ok and result.retryable and attempt < settings.ALERT_DELIVERY_MAX_ATTEMPTS
    if result.ok:
        fields.update(status=DeliveryStatus.SENT, sent_at=now, next_attempt_at=None)
        counter = "success_count"
    elif retry:
        due = now + timedelta(seconds=delivery_backoff_s(attempt))
        fields.update(next_attempt_at=due)
    else:
        fields.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
        counter = "failure_count"
    with transaction.atomic():
        # Alert row first, as _record in firing.py does: one lock order, no deadlock.
        AutomationAlert.objects.select_for_update().filter(pk=alert.pk).first()
        mine = AlertDelivery.objects.filter(
            pk=delivery.pk, attempts=attempt, status=DeliveryStatus.PENDING
        )
        if not mine.update(**fields):
            logger.warning("delivery %s attempt %s was superseded", delivery.pk, attempt)
            return None
        if retry:
            delivery_schedule(delivery_id=delivery.pk, due=fields["next_attempt_at"], now=now)
        else:
            AutomationAlert.objects.filter(pk=alert.pk).update(**{counter: F(counter) + 1})
    status = fields.get("status", DeliveryStatus.PENDING)
    log = logger.info if result.ok else logger.warning
    log("alert %s delivery %s attempt %s/%s: %s (%s)", alert.pk, delivery.pk, attempt,
        settings.ALERT_DELIVERY_MAX_ATTEMPTS, status, detail)  # fmt: skip
    return str(status)
