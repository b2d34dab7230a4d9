"""Celery tasks of the alerts app: thin wrappers that take ids and call one service."""

from celery import shared_task

from alerts.services.deliveries import DELIVER_TASK, delivery_attempt, delivery_sweep
from alerts.services.firing import alerts_fire_for_silence


@shared_task(name=DELIVER_TASK, acks_late=True, ignore_result=True)
def deliver(delivery_id: int) -> None:
    """One attempt at a delivery; retries are scheduled by the service, not by Celery."""
    delivery_attempt(delivery_id=delivery_id)


@shared_task(name="alerts.sweep", ignore_result=True)
def sweep() -> int:
    return delivery_sweep()


@shared_task(name="alerts.silence_check", ignore_result=True)
def silence_check() -> int:
    return alerts_fire_for_silence()
