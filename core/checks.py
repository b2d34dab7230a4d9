"""System checks (``manage.py check``, ``check --deploy``, and every ``migrate``) for settings
that work on one process and silently weaken on several."""

import os
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning

LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def _web_processes() -> int:
    """How many web processes serve: gunicorn's WEB_CONCURRENCY when set, else one."""
    try:
        return int(os.environ.get("WEB_CONCURRENCY", "1"))
    except ValueError:
        return 1


def throttle_cache_check(**kwargs: Any) -> list[CheckMessage]:
    """The sign-in, token and webhook throttles count in the default cache. A per-process cache
    counts each process apart, so with N web processes a limit is N times weaker."""
    backend = settings.CACHES["default"]["BACKEND"]
    several = settings.DJANGO_ENV == "production" or _web_processes() > 1
    if backend not in LOCAL_CACHES or not several:
        return []
    return [
        Warning(
            "The throttles count in a per-process cache while more than one process serves: "
            "each process counts apart, so every rate limit is that many times weaker.",
            hint="Set CACHE_URL to a Redis URL every web process shares (redis://host:6379/1).",
            id="core.W001",
        )
    ]
