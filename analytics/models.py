"""The analytics app's own tables: liveness stamps, and the rollups its stats read."""

from django.db import models


class Heartbeat(models.Model):
    """The last moment a periodic process proved it was alive, or did its work."""

    BEAT = "beat"  # stamped by Celery Beat through analytics.beat_heartbeat
    ROLLUP = "rollup"  # the last rollup refresh: its watermark, and its lock

    name = models.CharField(max_length=64, primary_key=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"


class RollupCounts(models.Model):
    """What a rollup row counts of one workflow's finished executions over its period: counts by
    outcome, the total active time of the completed and failed ones (for averages), and the
    latest failure."""

    workflow = models.ForeignKey(
        "workflows.AutomationWorkflow", on_delete=models.CASCADE, related_name="+"
    )
    completed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    time_total_ms = models.BigIntegerField(default=0)
    timed = models.PositiveIntegerField(default=0)
    last_failed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        abstract = True


class ExecutionRollup(RollupCounts):
    """One UTC hour of a workflow. Kept by ``rollup_refresh`` (Beat), so stats read a few rows
    per hour instead of every execution."""

    hour = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workflow", "hour"], name="rollup_workflow_hour"),
        ]
        indexes = [models.Index(fields=["hour"], name="rollup_hour")]

    def __str__(self) -> str:
        return f"Workflow {self.workflow_id} at {self.hour:%Y-%m-%d %H:00}"


class ExecutionDailyRollup(RollupCounts):
    """The hourly rollups of one workflow summed over one UTC day: totals over months read a
    row per day."""

    day = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workflow", "day"], name="daily_rollup_workflow_day"),
        ]
        indexes = [models.Index(fields=["day"], name="daily_rollup_day")]

    def __str__(self) -> str:
        return f"Workflow {self.workflow_id} on {self.day:%Y-%m-%d}"


class StepFailureRollup(models.Model):
    """How often one step of a workflow failed in executions created in one UTC hour."""

    workflow = models.ForeignKey(
        "workflows.AutomationWorkflow", on_delete=models.CASCADE, related_name="+"
    )
    hour = models.DateTimeField()
    step_id = models.CharField(max_length=64)
    step_type = models.CharField(max_length=32)
    failures = models.PositiveIntegerField(default=0)
    last_failed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "hour", "step_id", "step_type"], name="step_rollup_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"Step {self.step_id} of workflow {self.workflow_id} at {self.hour:%Y-%m-%d %H:00}"
