"""The recent window (METRICS_WINDOW_S, by execution creation time): executions by status,
retries, re-claims, duration distributions and outbound HTTP responses."""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

from alerts.models import AlertDelivery
from analytics.metrics.present import WORKFLOW_LABELS
from integrations.models import IntegrationConnection
from workflows.models import (
    AutomationExecution,
    AutomationExecutionStep,
    ExecutionStatus,
    StepStatus,
)

DURATION_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
# Steps whose output records the HTTP status of the request they sent.
HTTP_STEP_TYPES = ("api_call", "monitor")
_FINISHED = (StepStatus.COMPLETED, StepStatus.FAILED)


def recent_executions(since: datetime, names: dict[int, str]) -> Iterator[Metric]:
    by_status = GaugeMetricFamily(
        "workflows_recent_executions",
        "Executions created in the window, by workflow and current status.",
        labels=[*WORKFLOW_LABELS, "status"],
    )
    reclaimed = GaugeMetricFamily(
        "workflows_recent_executions_reclaimed",
        "Executions created in the window that were claimed by a worker more than once: after a "
        "retry wait, a recovery by the sweep (lost message, dead worker) or a retry by hand.",
        labels=WORKFLOW_LABELS,
    )
    rows = (
        AutomationExecution.objects.filter(created_at__gte=since)
        .values("workflow_id", "status")
        .annotate(n=Count("pk"), reclaimed=Count("pk", filter=Q(attempt__gt=1)))
        .order_by("workflow_id", "status")
    )
    per_workflow: Counter[int] = Counter()
    for row in rows:
        labels = [str(row["workflow_id"]), names.get(row["workflow_id"], "")]
        by_status.add_metric([*labels, row["status"]], row["n"])
        per_workflow[row["workflow_id"]] += row["reclaimed"]
    for workflow_id, count in sorted(per_workflow.items()):
        reclaimed.add_metric([str(workflow_id), names.get(workflow_id, "")], count)
    yield by_status
    yield reclaimed
    finished = AutomationExecution.objects.filter(
        created_at__gte=since, status__in=[ExecutionStatus.COMPLETED, ExecutionStatus.FAILED]
    )
    yield _duration_histogram(
        "workflows_recent_execution_duration_seconds",
        "Active time (the steps' work, every attempt summed; no queueing, backoff or waits) of "
        "the window's completed and failed executions, by workflow.",
        finished,
        "workflow_id",
        WORKFLOW_LABELS,
        lambda workflow_id: [str(workflow_id), names.get(workflow_id, "")],
    )


def recent_steps(since: datetime) -> Iterator[Metric]:
    steps = _window_steps(since)
    yield _duration_histogram(
        "workflows_recent_step_duration_seconds",
        "Active time (every attempt summed) of the window's completed and failed steps, by "
        "action type.",
        steps.filter(status__in=_FINISHED),
        "step_type",
        ["action_type"],
        lambda step_type: [step_type],
    )
    retries = GaugeMetricFamily(
        "workflows_recent_step_retries",
        "Tries beyond the first of the window's steps, by action type.",
        labels=["action_type"],
    )
    rows = (
        steps.filter(attempts__gt=1)
        .values("step_type")
        .annotate(retries=Sum(F("attempts") - 1))
        .order_by("step_type")
    )
    for row in rows:
        retries.add_metric([row["step_type"]], row["retries"])
    yield retries


def _window_steps(since: datetime) -> QuerySet[AutomationExecutionStep]:
    """Steps of the executions created since ``since``. Spelled as ``execution_id IN (…)`` so
    the database walks the window's executions by creation time, then their steps by execution:
    a join lets SQLite scan every step instead."""
    window = AutomationExecution.objects.filter(created_at__gte=since).values("pk")
    return AutomationExecutionStep.objects.filter(execution_id__in=window)


def _bucket_of(field: str) -> Case:
    """The index of the first bucket a duration in milliseconds falls into (len: +Inf)."""
    whens = [
        When(**{f"{field}__lte": round(bound * 1000)}, then=Value(index))
        for index, bound in enumerate(DURATION_BUCKETS_S)
    ]
    return Case(*whens, default=Value(len(DURATION_BUCKETS_S)), output_field=IntegerField())


def _duration_histogram(
    name: str,
    text: str,
    queryset: QuerySet[Any],
    group_by: str,
    label_names: list[str],
    labels_of: Callable[[Any], list[str]],
) -> Metric:
    """A gauge histogram of ``execution_time_ms`` per ``group_by`` value, counted in SQL."""
    rows = (
        queryset.filter(execution_time_ms__isnull=False)
        .annotate(bucket=_bucket_of("execution_time_ms"))
        .values(group_by, "bucket")
        .annotate(n=Count("pk"), total_ms=Sum("execution_time_ms"))
        .order_by(group_by, "bucket")
    )
    counts: dict[Any, list[int]] = defaultdict(lambda: [0] * (len(DURATION_BUCKETS_S) + 1))
    sums: defaultdict[Any, float] = defaultdict(float)
    for row in rows:
        counts[row[group_by]][row["bucket"]] += row["n"]
        sums[row[group_by]] += (row["total_ms"] or 0) / 1000
    family = GaugeHistogramMetricFamily(name, text, labels=label_names)
    for key, per_bucket in counts.items():
        family.add_metric(labels_of(key), _cumulative(per_bucket), sums[key])
    return family


def _cumulative(per_bucket: Sequence[int]) -> list[tuple[str, float]]:
    bounds = [*(floatToGoString(bound) for bound in DURATION_BUCKETS_S), "+Inf"]
    buckets, running = [], 0
    for bound, count in zip(bounds, per_bucket, strict=True):
        running += count
        buckets.append((bound, float(running)))
    return buckets


def _as_int(value: Any) -> int | None:
    """A number read out of JSON; None for null or a missing key (SQLite reads JSON null as the
    text "null", PostgreSQL as NULL)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _status_class(code: Any) -> str:
    """``2xx``…``5xx``; ``error`` when no HTTP answer came back (timeout, refused, reset)."""
    number = _as_int(code)
    return "error" if number is None else f"{number // 100}xx"


def http_responses(since: datetime) -> Metric:
    family = GaugeMetricFamily(
        "workflows_recent_http_responses",
        "Outbound HTTP requests of the window by platform (the connection's, or http) and status "
        "class: api_call and monitor steps (their last try) and alert deliveries with an answer.",
        labels=["platform", "status_class"],
    )
    # Grouped by step type rather than filtered on it: a filter on the type makes SQLite walk the
    # (step_type, status) index over every step ever recorded instead of the window's.
    steps = (
        _window_steps(since)
        .filter(status__in=_FINISHED, attempts__gte=1)  # 0 tries: failed before sending
        .values(
            "step_type",
            connection=KT("input__connection"),
            code=Coalesce(KT("output__status_code"), KT("output__response__status_code")),
        )
        .annotate(n=Count("pk"))
        .order_by()
    )
    step_rows = [
        {**row, "connection": _as_int(row["connection"])}
        for row in steps
        if row["step_type"] in HTTP_STEP_TYPES
    ]
    ids = {row["connection"] for row in step_rows if row["connection"] is not None}
    platforms = dict(IntegrationConnection.objects.filter(pk__in=ids).values_list("pk", "platform"))
    counts: Counter[tuple[str, str]] = Counter()
    for row in step_rows:
        connection = row["connection"]
        platform = "http" if connection is None else platforms.get(connection, "unknown")
        counts[platform, _status_class(row["code"])] += row["n"]
    deliveries = (
        AlertDelivery.objects.filter(created_at__gte=since, response_code__isnull=False)
        .values("alert__channel", "response_code")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in deliveries:
        counts[row["alert__channel"], _status_class(row["response_code"])] += row["n"]
    for (platform, status_class), count in sorted(counts.items()):
        family.add_metric([platform, status_class], count)
    return family
