"""The kernel's tables: workflows, their executions and each execution's steps."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from integrations.crypto import EncryptedTextField


class WorkflowType(models.TextChoices):
    CONTENT_PUBLISHING = "content_publishing", "Content publishing"
    SOCIAL_SHARING = "social_sharing", "Social sharing"
    MONITORING = "monitoring", "Monitoring"
    OPTIMIZATION = "optimization", "Optimization"
    NOTIFICATION = "notification", "Notification"
    INTEGRATION = "integration", "Integration"
    CUSTOM = "custom", "Custom"


class TriggerType(models.TextChoices):
    MANUAL = "manual", "Manual"
    PUBLISH = "publish", "Article published"
    SCHEDULE = "schedule", "Schedule"
    EVENT = "event", "Event"
    WEBHOOK = "webhook", "Webhook"


class AutomationWorkflow(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    workflow_type = models.CharField(
        max_length=32, choices=WorkflowType.choices, default=WorkflowType.CUSTOM
    )
    trigger = models.JSONField(default=dict)
    trigger_type = models.CharField(
        max_length=16, choices=TriggerType.choices, default=TriggerType.MANUAL, editable=False
    )
    actions = models.JSONField(default=list)
    schedule = models.CharField(max_length=120, blank=True, default="")
    is_active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    # At most this many executions run at once; the rest wait, queued, in order. None: no limit.
    max_concurrency = models.PositiveIntegerField(null=True, blank=True)

    # Webhook trigger: the unguessable token of its URL, and the optional signing secrets. A new
    # secret keeps the previous one valid for a while, so senders can rotate without downtime.
    webhook_token = models.CharField(max_length=64, blank=True, default="", editable=False)
    webhook_secret = EncryptedTextField(blank=True, default="")
    webhook_secret_previous = EncryptedTextField(blank=True, default="", editable=False)
    webhook_secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)

    run_count = models.PositiveIntegerField(default=0, editable=False)
    success_count = models.PositiveIntegerField(default=0, editable=False)
    failure_count = models.PositiveIntegerField(default=0, editable=False)
    avg_execution_time_ms = models.FloatField(default=0.0, editable=False)
    last_run_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_status = models.CharField(max_length=16, blank=True, default="", editable=False)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["webhook_token"],
                condition=~Q(webhook_token=""),
                name="workflow_webhook_token_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["is_active", "trigger_type"], name="workflow_active_trigger"),
            models.Index(fields=["workflow_type"], name="workflow_type"),
        ]

    def __str__(self) -> str:
        return self.name


class WorkflowRevision(models.Model):
    """One recorded state of a workflow's definition, numbered 1, 2, 3… per workflow.

    Every change to the definition records the next one; nothing ever edits or deletes a
    revision (a restore records a new one), so the history is the workflow's audit trail.
    """

    workflow = models.ForeignKey(
        AutomationWorkflow, on_delete=models.CASCADE, related_name="revisions"
    )
    number = models.PositiveIntegerField()
    # {name, description, workflow_type, trigger, actions, schedule, max_concurrency}
    definition = models.JSONField(default=dict)
    # The top-level definition fields that differ from the previous revision (all for the first).
    changed_fields = models.JSONField(default=list, blank=True)
    change_note = models.CharField(max_length=500, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workflow_id", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "number"], name="workflow_revision_number_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"Workflow {self.workflow_id} revision {self.number}"


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
    execution_time_ms = models.PositiveIntegerField(null=True, blank=True)
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


# A step in one of these states never runs again in the same execution.
STEP_DONE_STATUSES = (StepStatus.COMPLETED, StepStatus.SKIPPED, StepStatus.FAILED)


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
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    execution_time_ms = models.PositiveIntegerField(null=True, blank=True)

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


class ApiToken(models.Model):
    """A revocable API token. Only a SHA-256 digest of the token is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True, default="")
    prefix = models.CharField(max_length=12)
    key_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class StepEffect(models.Model):
    """The effect ledger: a side effect a step made (a post, a message, a commit), recorded
    under its idempotency key, so a re-delivered step skips what it already did."""

    key = models.CharField(max_length=200, unique=True)
    execution = models.ForeignKey(
        AutomationExecution, on_delete=models.CASCADE, related_name="effects"
    )
    step_id = models.CharField(max_length=64)
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.key
