"""API orchestrations (a set of HTTP calls with dependencies) and the record of each run."""

from django.conf import settings
from django.db import models

from orchestration.patterns import PATTERN_CHOICES


class APIOrchestration(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    type = models.CharField(max_length=16, choices=PATTERN_CHOICES, default="sequential")
    # Each call: {id, method, url, headers, query, body, connection, timeout_s, condition, extract}.
    api_calls = models.JSONField(default=list)
    # {call_id: [call ids it waits for]}: a DAG, validated on save.
    dependencies = models.JSONField(default=dict, blank=True)
    # {max_attempts, backoff, delay_s, retry_on}, applied to each call.
    retry_strategy = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)

    success_count = models.PositiveIntegerField(default=0, editable=False)
    failure_count = models.PositiveIntegerField(default=0, editable=False)
    avg_duration_ms = models.FloatField(default=0.0, editable=False)
    last_run_at = models.DateTimeField(null=True, blank=True, editable=False)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "API orchestration"

    def __str__(self) -> str:
        return self.name


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


RUN_FINISHED_STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED)


class OrchestrationRun(models.Model):
    orchestration = models.ForeignKey(
        APIOrchestration, on_delete=models.CASCADE, related_name="runs"
    )
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    input = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    # {call_id: {status, status_code, attempts, duration_ms, output: {body, extracted}, error}}
    calls = models.JSONField(default=dict, blank=True)
    # The definition the run runs with, frozen at creation so an edit never changes a queued run.
    definition = models.JSONField(default=dict)
    error = models.TextField(blank=True, default="")
    # Whether running the orchestration again may succeed (the failure was a timeout, 429, 5xx).
    retryable = models.BooleanField(default=False)

    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["orchestration", "-created_at"], name="orch_run_orch_created"),
            models.Index(
                fields=["status", "created_at"],
                condition=models.Q(status__in=["queued", "running"]),
                name="orch_run_unfinished",
            ),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} of orchestration {self.orchestration_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in RUN_FINISHED_STATUSES
