"""The Celery application: configured from Django settings (the ``CELERY_`` namespace)."""

import os
from typing import Any

from celery import Celery
from celery.signals import beat_init, before_task_publish, task_postrun, task_prerun
from django.db import close_old_connections
from kombu.transport import TRANSPORT_ALIASES

from workflows.broker import stamp_sent_at

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# ``sqlite:///path`` names the embedded broker.
TRANSPORT_ALIASES["sqlite"] = "workflows.broker.sqlite:Transport"
before_task_publish.connect(stamp_sent_at, weak=False)


def _connections_checked(task: Any = None, **_kwargs: object) -> None:
    """A task starts and ends as a web request does: a connection past CONN_MAX_AGE, left in
    error or failing its health check is replaced; a healthy one is kept (CELERY_DB_REUSE_MAX).
    An eager task runs inside its caller's transaction: its connection is the caller's."""
    if task is None or not task.request.is_eager:
        close_old_connections()


task_prerun.connect(_connections_checked, weak=False)
task_postrun.connect(_connections_checked, weak=False)

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _beat_schedules_sync(**_kwargs: object) -> None:
    """A starting Beat first brings every workflow's entry in line with the code and settings
    it runs with (an interval's tick follows SCHEDULE_MISFIRE_GRACE_S)."""
    from workflows.services.schedules import schedule_sync_all  # needs Django set up

    schedule_sync_all()


beat_init.connect(_beat_schedules_sync, weak=False)
