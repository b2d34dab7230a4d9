"""The baselines' Celery tasks: what a raw Celery chain costs, with and without the two database
writes per task that any durable engine pays. Loaded into the benchmark's worker with --include."""

from functools import cache

import redis
from celery import shared_task
from django.conf import settings
from django.db import connection


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


def _write() -> None:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_rows (n) VALUES (1) RETURNING id")
        row_id = cursor.fetchone()[0]
        cursor.execute("UPDATE bench_rows SET done = true WHERE id = %s", [row_id])


@shared_task(name="bench.noop", ignore_result=True)
def noop() -> None:
    return None


@shared_task(name="bench.noop_last", ignore_result=True)
def noop_last(counter: str) -> None:
    _redis().incr(counter)


@shared_task(name="bench.write", ignore_result=True)
def write() -> None:
    _write()


@shared_task(name="bench.write_last", ignore_result=True)
def write_last(counter: str) -> None:
    _write()
    _redis().incr(counter)
