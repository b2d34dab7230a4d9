"""Counters that only grow, and gauges of the present: what is queued, running, stuck, alive."""

import logging
import math
import threading
import time
from collections.abc import Iterator
from datetime import datetime

from celery import current_app
from django.conf import settings
from django.db.models import Count, Q, Sum
from django_celery_beat.models import PeriodicTask
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from alerts.models import AlertDelivery, AutomationAlert, DeliveryStatus
from workflows.broker import replies_connection
from workflows.models import AutomationExecution, ExecutionStatus

logger = logging.getLogger(__name__)

# The Beat entry whose last run is Beat's heartbeat: it runs every few seconds.
BEAT_HEARTBEAT_ENTRY = "workflows-sweep"
WORKERS_CACHE_S = 10.0
WORKERS_INSPECT_TIMEOUT_S = 1.0
WORKFLOW_LABELS = ["workflow_id", "workflow"]


def finished_counters(workflows: list[tuple[int, str, int, int]]) -> Iterator[Metric]:
    family = CounterMetricFamily(
        "workflows_executions_finished",
        "Executions finished, by workflow and status (a retried execution counts each finish).",
        labels=[*WORKFLOW_LABELS, "status"],
    )
    for workflow_id, name, completed, failed in workflows:
        labels = [str(workflow_id), name]
        family.add_metric([*labels, ExecutionStatus.COMPLETED], completed)
        family.add_metric([*labels, ExecutionStatus.FAILED], failed)
    yield family


def in_flight(now: datetime) -> Iterator[Metric]:
    queued, running = Q(status=ExecutionStatus.QUEUED), Q(status=ExecutionStatus.RUNNING)
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    counts = AutomationExecution.objects.filter(queued | running).aggregate(
        queued=Count("pk", filter=queued & due),
        waiting_retry=Count("pk", filter=queued & Q(next_attempt_at__gt=now)),
        running=Count("pk", filter=running),
        lease_expired=Count("pk", filter=running & Q(lease_expires_at__lt=now)),
    )
    helps = {
        "queued": "Queue depth: executions waiting for a worker now (queued and due).",
        "waiting_retry": "Queued executions waiting out a retry delay.",
        "running": "Executions running now.",
        "lease_expired": "Running executions whose lease expired (worker presumed dead); the "
        "sweep hands them to another worker.",
    }
    for name, text in helps.items():
        yield GaugeMetricFamily(f"workflows_executions_{name}", text, value=counts[name])


def alerts() -> Iterator[Metric]:
    sent = CounterMetricFamily(
        "workflows_alert_deliveries",
        "Alert messages sent or given up on, by channel and outcome.",
        labels=["channel", "outcome"],
    )
    totals = (
        AutomationAlert.objects.values("channel")
        .annotate(sent=Sum("success_count"), failed=Sum("failure_count"))
        .order_by("channel")
    )
    for row in totals:
        sent.add_metric([row["channel"], "sent"], row["sent"] or 0)
        sent.add_metric([row["channel"], "failed"], row["failed"] or 0)
    yield sent
    pending = GaugeMetricFamily(
        "workflows_alert_deliveries_pending",
        "Alert deliveries waiting to be sent (throttle window, retry wait, or in flight).",
        labels=["channel"],
    )
    waiting = (
        AlertDelivery.objects.filter(status=DeliveryStatus.PENDING)
        .values("alert__channel")
        .annotate(n=Count("pk"))
        .order_by("alert__channel")
    )
    for row in waiting:
        pending.add_metric([row["alert__channel"]], row["n"])
    yield pending


class _LiveWorkers:
    """Workers that answer on the broker and consume the default queue. The broadcast waits its
    whole timeout for replies, so each process asks at most once per WORKERS_CACHE_S."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0
        self._expires = 0.0

    def count(self) -> int:
        with self._lock:
            if time.monotonic() >= self._expires:
                self._value = self._ask()
                self._expires = time.monotonic() + WORKERS_CACHE_S
            return self._value

    def forget(self) -> None:
        with self._lock:
            self._expires = 0.0

    @staticmethod
    def _ask() -> int:
        try:
            with replies_connection() as conn:
                inspect = current_app.control.inspect(
                    timeout=WORKERS_INSPECT_TIMEOUT_S, connection=conn
                )
                replies = inspect.active_queues() or {}
        except Exception:
            logger.warning("metrics: could not reach the workers through the broker", exc_info=True)
            return 0
        queue = settings.CELERY_TASK_DEFAULT_QUEUE
        return sum(
            1 for queues in replies.values() if any(q.get("name") == queue for q in queues or [])
        )


live_workers = _LiveWorkers()


def processes(now: datetime) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "workflows_workers_alive",
        "Celery workers answering on the broker that consume the default queue.",
        value=live_workers.count(),
    )
    last_run = (
        PeriodicTask.objects.filter(name=BEAT_HEARTBEAT_ENTRY)
        .values_list("last_run_at", flat=True)
        .first()
    )
    yield GaugeMetricFamily(
        "workflows_beat_heartbeat_age_seconds",
        f"Seconds since Beat last ran {BEAT_HEARTBEAT_ENTRY} as recorded in the database (Beat "
        "writes it every 3 minutes or so); +Inf when it never ran.",
        value=(now - last_run).total_seconds() if last_run else math.inf,
    )
