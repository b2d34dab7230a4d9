"""Executions and each execution's steps."""

from django.db import models
from django.db.models import Q

from workflows.models.workflows import AutomationWorkflow, TriggerType, WorkflowRevision


class ExecutionStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    # Paused by an approval or wait step: holds no worker; resumed when due or decided.
    WAITING = "waiting", "Waiting"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATUSES = (
    ExecutionStatus.COMPLETED,
    ExecutionStatus.FAILED,
    ExecutionStatus.CANCELLED,
)


class AutomationExecution(models.Model):
    workflow = models.ForeignKey(
        AutomationWorkflow, on_delete=models.CASCADE, related_name="executions"
    )
    status = models.CharField(
        max_length=16, choices=ExecutionStatus.choices, default=ExecutionStatus.QUEUED
    )
    trigger_type = models.CharField(max_length=16, choices=TriggerType.choices)
    trigger_payload = models.JSONField(default=dict, blank=True)
    # Who or what started it: {"kind": ActorKind, "name", "id"} (workflows/services/audit.py).
    triggered_by = models.JSONField(default=dict, blank=True)
    # The definition the execution runs with (trigger, actions, workflow version), frozen at
    # creation so an edit to the workflow never changes a run already under way.
    definition = models.JSONField(default=dict)
    workflow_version = models.PositiveIntegerField(default=1)
    # The workflow revision that was current when the execution was created.
    revision = models.ForeignKey(
        WorkflowRevision,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="executions",
    )
    # Template context carried between steps: {"steps": {action_id: output}, ...}.
    context = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=200, blank=True, default="")
    # Created while its workflow had a max_concurrency: only such executions take the slower,
    # limit-checking claim.
    concurrency_limited = models.BooleanField(default=False)
    # The schedule slot a scheduled execution was fired for; unique per workflow, so a second
    # fire of the same slot (two Beat processes, a re-sync race) starts nothing.
    scheduled_for = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Active time: what the steps took, every attempt summed; waits, backoff and queueing are not
    # in it. Wall time: created → finished, everything included. Both 64-bit: a run may wait weeks.
    execution_time_ms = models.BigIntegerField(null=True, blank=True)
    wall_time_ms = models.BigIntegerField(null=True, blank=True)
    steps_completed = models.PositiveIntegerField(default=0)
    steps_total = models.PositiveIntegerField(default=0)
    error_message = models.TextField(blank=True, default="")

    # Durability: who holds the execution, until when, and a fencing number that every state
    # write is conditional on, so a worker that lost its lease cannot overwrite a newer attempt.
    attempt = models.PositiveIntegerField(default=0)
    deliveries = models.PositiveIntegerField(default=0)
    locked_by = models.CharField(max_length=200, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    # The trigger's span (W3C ``traceparent``): every delivery continues its trace. "" untraced.
    traceparent = models.CharField(max_length=55, blank=True, default="")
    # A replay: the execution it re-runs and the step it starts from ("" from the start).
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays"
    )
    replay_from_step = models.CharField(max_length=64, blank=True, default="")
    # Whose effect-ledger keys the steps use (None: its own). A replay keeps its origin's, so an
    # effect the origin already made is recalled, not made again (workflows/services/replay.py).
    effect_scope = models.PositiveBigIntegerField(null=True, blank=True)
    # Started by another execution's run_workflow step: which, and which step.
    parent_execution = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    parent_step_id = models.CharField(max_length=64, blank=True, default="")
    # The bulk replay or backfill job that started it.
    job = models.ForeignKey(
        "workflows.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="executions"
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="execution_idempotency_key_unique",
            ),
            models.UniqueConstraint(
                fields=["workflow", "scheduled_for"],
                condition=Q(scheduled_for__isnull=False),
                name="execution_schedule_slot_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["workflow", "-created_at"], name="execution_workflow_created"),
            models.Index(fields=["status", "-created_at"], name="execution_status_created"),
            models.Index(fields=["-created_at"], name="execution_created"),
            # Pruning keeps the executions whose effect ledger a replay uses.
            models.Index(
                fields=["effect_scope"],
                condition=Q(effect_scope__isnull=False),
                name="execution_effect_scope",
            ),
            models.Index(
                fields=["status", "lease_expires_at"],
                condition=Q(status__in=["queued", "running"]),
                name="execution_unfinished",
            ),
            # Analytics: the activity feed pages executions by start and by finish time, and
            # the rollup refresh finds what finished since its previous run.
            models.Index(fields=["-started_at", "-id"], name="execution_started"),
            models.Index(fields=["-completed_at", "-id"], name="execution_completed"),
        ]

    def __str__(self) -> str:
        return f"Execution {self.pk} of workflow {self.workflow_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class StepStatus(models.TextChoices):
    RUNNING = "running", "Running"
    RETRYING = "retrying", "Retrying"
    WAITING = "waiting", "Waiting"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    # The execution was cancelled while this step was under way (running, retrying, waiting).
    CANCELLED = "cancelled", "Cancelled"


# A step in one of these states never runs again in the same execution.
STEP_DONE_STATUSES = (StepStatus.COMPLETED, StepStatus.SKIPPED, StepStatus.FAILED)
# A step in one of these states is under way; a finished execution has none.
STEP_UNDER_WAY_STATUSES = (StepStatus.RUNNING, StepStatus.RETRYING, StepStatus.WAITING)


class AutomationExecutionStep(models.Model):
    execution = models.ForeignKey(
        AutomationExecution, on_delete=models.CASCADE, related_name="steps"
    )
    step_index = models.PositiveIntegerField()
    step_id = models.CharField(max_length=64)
    step_name = models.CharField(max_length=200, blank=True, default="")
    step_type = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=StepStatus.choices)
    input = models.JSONField(default=dict, blank=True)
    output = models.JSONField(default=dict, blank=True)
    error_message = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    # Every attempt, oldest first: {attempt, status, started_at, completed_at, execution_time_ms,
    # error_message, input}. A retry adds one; nothing overwrites an earlier one.
    attempt_history = models.JSONField(default=list, blank=True)
    # When the first attempt started, and when the step finished.
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Active time (every attempt's work summed) and wall time (first start → finish, backoff
    # and waits included), 64-bit.
    execution_time_ms = models.BigIntegerField(null=True, blank=True)
    wall_time_ms = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["execution_id", "step_index"]
        constraints = [
            models.UniqueConstraint(
                fields=["execution", "step_index"], name="execution_step_index_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["step_type", "status"], name="step_type_status"),
        ]

    def __str__(self) -> str:
        return f"Step {self.step_index} ({self.step_id}) of execution {self.execution_id}"

    @property
    def idempotency_key(self) -> str:
        return f"{self.execution_id}-{self.step_id}"
