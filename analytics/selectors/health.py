"""System health: each component really checked, with its latency.

- database: a query; broker: a fresh connection. Either failing makes the system ``down``.
- workers: a Celery broadcast with a short timeout, counting the workers that answer and consume
  this installation's queue; scheduler: the age of the heartbeat Celery Beat stamps through
  ``analytics.beat_heartbeat``. Either failing makes the system ``degraded``: triggers are still
  accepted, but work waits.
- processes (under ``manage.py serve`` only): each child's restarts and last exit; a child being
  restarted makes the system ``degraded``.
- queue: executions waiting for a worker and how long the oldest has waited; each broker lane's
  length and the age of its oldest message. Work waiting past QUEUE_LAG_DEGRADED_S makes the
  system ``degraded``.

A broadcast waits out its whole timeout (it cannot know how many workers to expect), so the
broker-side probes (workers, broker queue length) are cached for ANALYTICS_HEALTH_CACHE_S: a
stale result is answered at once while one background thread refreshes it, so a load balancer
polling every second gets a fast answer. The scheduler probe is one primary-key read, never
cached. ANALYTICS_HEALTH_CACHE_S = 0 probes every time (tests).
"""

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from analytics.models import Heartbeat
from analytics.selectors.windows import executions_oldest_wait_s, executions_queued_count
from workflows.broker import lane_states, replies_connection
from workflows.supervisor import status_read

# Past this many cache periods a cached result is not shown any more: the caller waits for a probe.
_STALE_PERIODS = 6


class Unhealthy(Exception):
    """A probe ran and found the component unhealthy; ``extra`` fields are still reported."""

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.extra = extra


logger = logging.getLogger(__name__)
Probe = Callable[[], dict[str, Any]]
_URL_PASSWORD = re.compile(r"(\w+://[^/\s:@]*:)[^@\s]*@")


def _described(exc: Exception) -> str:
    """The error for the report, without any password a URL in it may carry."""
    return _URL_PASSWORD.sub(r"\1***@", f"{type(exc).__name__}: {exc}")


def _database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"detail": "query ok"}


def _connect(conn: Any) -> None:
    # One immediate retry forgives a blip; waiting between retries would hold GET health up.
    conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)


def _broker() -> dict[str, Any]:
    # A fresh connection to the configured URL: a pooled one could hide a broker that went away.
    with current_app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
        _connect(conn)
    return {"detail": "connected"}


def _ping(conn: Any) -> dict[str, Any]:
    """Ask every worker which queues it consumes (a broadcast answered like a ping) and count
    the ones serving this installation's queue: a worker on another queue runs none of its work."""
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    inspect = current_app.control.inspect(
        timeout=settings.ANALYTICS_WORKER_PING_TIMEOUT_S, connection=conn
    )
    replies = inspect.active_queues() or {}
    names = sorted(
        name
        for name, queues in replies.items()
        if any(entry.get("name") == queue for entry in queues or [])
    )
    if not names:
        raise Unhealthy(f"no worker of queue '{queue}' answered", count=0, names=[])
    return {"detail": f"{len(names)} of queue '{queue}' answered", "count": len(names),
            "names": names}  # fmt: skip


def _lanes(conn: Any) -> list[dict[str, Any]] | None:
    """Each broker lane's length and the age of its oldest message, where the broker tells."""
    try:
        states = lane_states(conn)
    except Exception:
        return None
    return [
        {"name": lane.name, "length": lane.length, "oldest_age_s": lane.oldest_age_s}
        for lane in states
    ]


def _broker_side() -> dict[str, Any]:
    """The workers component and the broker queue's length, over one fresh broker connection."""
    started = time.monotonic()
    try:
        # A fresh connection to the configured URL: a pooled one could hide a broker that went
        # away. It collects the workers' replies for the whole ping timeout.
        with replies_connection() as conn:
            _connect(conn)
            lanes = _lanes(conn)
            workers = _probe(lambda: _ping(conn))
    except Exception as exc:
        latency_ms = round((time.monotonic() - started) * 1000, 1)
        detail = f"broker unreachable: {_described(exc)}"
        workers = {"ok": False, "latency_ms": latency_ms, "detail": detail, "count": 0}
        lanes = None
    return {"workers": workers, "lanes": lanes}


def _scheduler() -> dict[str, Any]:
    beat_at = Heartbeat.objects.filter(name=Heartbeat.BEAT).values_list("beat_at", flat=True)
    last = beat_at.first()
    if last is None:
        raise Unhealthy("no heartbeat from Celery Beat yet", last_heartbeat_at=None, age_s=None)
    age_s = round((timezone.now() - last).total_seconds(), 1)
    if age_s > settings.ANALYTICS_BEAT_STALE_S:
        raise Unhealthy(
            f"last heartbeat {age_s:g} s ago: Beat, or every worker, is down",
            last_heartbeat_at=last,
            age_s=age_s,
        )
    return {"detail": f"heartbeat {age_s:g} s ago", "last_heartbeat_at": last, "age_s": age_s}


def _queue(lanes: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Queued executions and how long the oldest has waited; each broker lane's length and the
    age of its oldest message. Work waiting longer than QUEUE_LAG_DEGRADED_S is unhealthy."""
    queued = executions_queued_count()
    waited = executions_oldest_wait_s()
    lengths = [lane["length"] for lane in lanes or [] if lane["length"] is not None]
    ages = [lane["oldest_age_s"] for lane in lanes or [] if lane["oldest_age_s"] is not None]
    lag = max([*ages, waited or 0.0])
    result = {
        "queued_executions": queued,
        "oldest_queued_age_s": waited,
        "broker_queue_length": sum(lengths) if lanes is not None else None,
        "lanes": lanes,
        "lag_s": lag,
    }
    detail = f"{queued} executions queued, oldest waiting {lag:g} s"
    if lag > settings.QUEUE_LAG_DEGRADED_S:
        raise Unhealthy(
            f"{detail}: over QUEUE_LAG_DEGRADED_S ({settings.QUEUE_LAG_DEGRADED_S:g} s)", **result
        )
    return {"detail": detail, **result}


def _processes(status: dict[str, Any]) -> dict[str, Any]:
    """Under ``manage.py serve``: each child's restarts and last exit, and whether it runs."""
    children = status["children"]
    down = sorted(name for name, child in children.items() if not child["running"])
    restarts = sum(child["restarts"] for child in children.values())
    detail = f"{len(children) - len(down)} of {len(children)} running, {restarts} restarts"
    if down:
        raise Unhealthy(f"{detail}; restarting: {', '.join(down)}", children=children)
    return {"detail": detail, "children": children}


def _probe(check: Probe) -> dict[str, Any]:
    started = time.monotonic()
    try:
        result, ok = check(), True
    except Unhealthy as exc:
        result, ok = {"detail": str(exc), **exc.extra}, False
    except Exception as exc:
        result, ok = {"detail": _described(exc)}, False
    latency_ms = round((time.monotonic() - started) * 1000, 1)
    return {"ok": ok, "latency_ms": latency_ms, **result}


# Components whose failure makes the whole system "down"; then those making it "degraded".
CRITICAL: dict[str, Probe] = {"database": _database, "broker": _broker}
DEGRADING = ("workers", "scheduler", "queue", "processes")

_refreshing = threading.Lock()


def _cache_key() -> str:
    # Per broker (tests switch it), without writing its URL, password included, into the cache.
    broker = hashlib.sha256(settings.CELERY_BROKER_URL.encode()).hexdigest()[:16]
    return f"analytics:health:broker-side:{broker}"


def _refresh() -> dict[str, Any]:
    result = _broker_side()
    try:
        cache.set(_cache_key(), (time.time(), result), timeout=None)
    except Exception:
        logger.warning("health: the cache is unreachable; probing without it", exc_info=True)
    return result


def _refresh_in_background() -> None:
    if not _refreshing.acquire(blocking=False):
        return

    def run() -> None:
        try:
            _refresh()
        finally:
            _refreshing.release()

    threading.Thread(target=run, name="health-refresh", daemon=True).start()


def _cached_broker_side() -> dict[str, Any]:
    period = settings.ANALYTICS_HEALTH_CACHE_S
    if period <= 0:
        return _broker_side()
    try:
        cached = cache.get(_cache_key())
    except Exception:
        cached = None  # a cache outage must not fail the health check itself
    age = time.time() - cached[0] if cached else period * _STALE_PERIODS + 1
    if age > period * _STALE_PERIODS:
        return _refresh()
    if age > period:
        _refresh_in_background()
    result = cached[1]
    return {**result, "workers": {**result["workers"], "cached_s_ago": round(age, 1)}}


def health_cache_clear() -> None:
    """Forget cached probe results: the next ``system_health`` probes everything."""
    cache.delete(_cache_key())


def system_health() -> dict[str, Any]:
    """``{"status": "ok"|"degraded"|"down", "checked_at", "components": {name: {ok, latency_ms,
    detail, …}}}`` for database, broker, workers (``count``, ``names``), scheduler
    (``last_heartbeat_at``, ``age_s``) and queue (``queued_executions``, ``oldest_queued_age_s``,
    ``broker_queue_length``, ``lanes``, ``lag_s``).

    ``down`` when the database or the broker fails; ``degraded`` when no worker answers, the
    scheduler's heartbeat is stale or queued work waits too long; ``ok`` otherwise.
    """
    components = {name: _probe(check) for name, check in CRITICAL.items()}
    broker_side = _cached_broker_side()
    components["workers"] = broker_side["workers"]
    components["scheduler"] = _probe(_scheduler)
    components["queue"] = _probe(lambda: _queue(broker_side["lanes"]))
    supervised = status_read(settings.DATA_DIR)
    if supervised is not None:
        components["processes"] = _probe(lambda: _processes(supervised))
    if any(not components[name]["ok"] for name in CRITICAL):
        status = "down"
    elif any(not components[name]["ok"] for name in DEGRADING if name in components):
        status = "degraded"
    else:
        status = "ok"
    return {"status": status, "checked_at": timezone.now(), "components": components}
