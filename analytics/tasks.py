"""Celery tasks of the analytics app: thin wrappers calling one service."""

from celery import shared_task

from analytics.services import heartbeat_stamp, rollup_refresh


@shared_task(name="analytics.beat_heartbeat", ignore_result=True)
def beat_heartbeat() -> None:
    """Scheduled by Beat: a fresh stamp proves Beat (and a worker to run it) is alive."""
    heartbeat_stamp()


@shared_task(name="analytics.rollup_refresh", ignore_result=True)
def refresh_rollups() -> int:
    return rollup_refresh()
