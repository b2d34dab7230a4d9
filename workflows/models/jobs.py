"""Background jobs that start many executions: a bulk replay, a schedule backfill. A job is
worked through in batches by the ``workflows.job_advance`` task (workflows/services/jobs.py),
so a request that asks for thousands of runs answers at once with the job's id and progress."""

from django.db import models

from workflows.models.workflows import AutomationWorkflow


class JobKind(models.TextChoices):
    BULK_REPLAY = "bulk_replay", "Bulk replay"
    BACKFILL = "backfill", "Backfill"


class JobStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


class Job(models.Model):
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.RUNNING)
    # A backfill's workflow; None for a bulk replay across workflows.
    workflow = models.ForeignKey(
        AutomationWorkflow, null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    # What was asked: the filter or the date range, the cap, …; ``items`` is the work list
    # (execution ids to replay, slot times to run) and ``position`` how far it has got.
    params = models.JSONField(default=dict)
    items = models.JSONField(default=list)
    position = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    # Executions started, and items that could not be (each with why, the first few kept).
    started = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_by = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "updated_at"], name="job_status_updated")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} job {self.pk} ({self.status})"
