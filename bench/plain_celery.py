"""The honest baseline: a plain Celery app, no Django, Celery's default settings, doing the same
work as the engine's baselines — three chained tasks, with or without an INSERT + UPDATE each
(psycopg, autocommit, one connection per worker process), the last one counting in Redis.

For trigger_latency.py, a chain whose first task notes when it started and whose last pushes
when it finished (under a key the client waits on).

Run as its own worker: ``celery -A bench.plain_celery worker``. Environment: ``BENCH_REDIS`` (the
broker), ``BENCH_DATABASE_URL`` (the rows' database), and ``PLAIN_ACKS_LATE=1`` for the variant
with the project's delivery settings (``task_acks_late`` and a prefetch of 1).
"""

import os
import time
from functools import cache

import psycopg
import redis
from celery import Celery

BROKER = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")
# Not the current app: the benchmark process also sends through the project's.
app = Celery("plain", broker=BROKER, set_as_current=False)
if os.environ.get("PLAIN_ACKS_LATE") == "1":
    app.conf.task_acks_late = True
    app.conf.worker_prefetch_multiplier = 1


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(BROKER)


@cache
def _connection() -> psycopg.Connection:
    return psycopg.connect(os.environ["BENCH_DATABASE_URL"], autocommit=True)


def _write() -> None:
    with _connection().cursor() as cursor:
        cursor.execute("INSERT INTO bench_rows (n) VALUES (1) RETURNING id")
        row = cursor.fetchone()
        assert row is not None
        cursor.execute("UPDATE bench_rows SET done = true WHERE id = %s", [row[0]])


@app.task(name="plain.noop", ignore_result=True)
def noop() -> None:
    return None


@app.task(name="plain.noop_last", ignore_result=True)
def noop_last(counter: str) -> None:
    _redis().incr(counter)


@app.task(name="plain.write", ignore_result=True)
def write() -> None:
    _write()


@app.task(name="plain.write_last", ignore_result=True)
def write_last(counter: str) -> None:
    _write()
    _redis().incr(counter)


@app.task(name="plain.started", ignore_result=True)
def started(key: str, writes: bool) -> None:
    _redis().set(f"{key}:started", time.time(), ex=600)
    if writes:
        _write()


@app.task(name="plain.step", ignore_result=True)
def step(writes: bool) -> None:
    if writes:
        _write()


@app.task(name="plain.finished", ignore_result=True)
def finished(key: str, writes: bool) -> None:
    if writes:
        _write()
    _redis().rpush(f"{key}:finished", time.time())
    _redis().expire(f"{key}:finished", 600)
