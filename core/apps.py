from pathlib import Path

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # The embedded default keeps its database, broker and key under DATA_DIR: made here, once
        # Django is set up, not while settings load.
        Path(settings.DATA_DIR).mkdir(parents=True, exist_ok=True)
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)

        from core.checks import throttle_cache_check
        from core.tracing import tracing_configured, tracing_start

        checks.register(throttle_cache_check)
        if tracing_configured():
            tracing_start()
