"""System health: each component really checked, with its latency."""

import time
from collections.abc import Callable
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import connection

Probe = Callable[[], str]


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "query ok"


def _broker() -> str:
    # A fresh connection to the configured URL: a pooled one could hide a broker that went away.
    with current_app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "connected"


# Components whose failure makes the whole system "down".
CRITICAL: dict[str, Probe] = {"database": _database, "broker": _broker}


def _probe(check: Probe) -> dict[str, Any]:
    started = time.monotonic()
    try:
        detail, ok = check(), True
    except Exception as exc:
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return {"ok": ok, "latency_ms": round((time.monotonic() - started) * 1000, 1), "detail": detail}


def system_health() -> dict[str, Any]:
    """``{"status": "ok"|"degraded"|"down", "components": {name: {ok, latency_ms, detail}}}``."""
    components = {name: _probe(check) for name, check in CRITICAL.items()}
    down = any(not components[name]["ok"] for name in CRITICAL)
    return {"status": "down" if down else "ok", "components": components}
