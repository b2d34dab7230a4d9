"""Workflows and their definition history."""

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
    # Another workflow: its run_workflow step, or its outcome (a trigger {"type": "workflow"}).
    WORKFLOW = "workflow", "Another workflow"
    # An article's lifecycle: created, updated, status changed, reverted, a version recorded.
    ARTICLE = "article", "Article event"


class OverlapPolicy(models.TextChoices):
    """What a new run does while another run of the same workflow is under way."""

    ALLOW = "allow", "Run alongside"
    QUEUE = "queue", "Wait its turn (max_concurrency at once)"
    SKIP = "skip", "Skip the new run"
    CANCEL_RUNNING = "cancel_running", "Cancel the running one"
    CANCEL_NEW = "cancel_new", "Cancel the new run"


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
    # What a new run does while another of this workflow is under way (OverlapPolicy).
    overlap_policy = models.CharField(max_length=16, choices=OverlapPolicy.choices, default="allow")
    # A schedule trigger fires nothing before this time (None: not paused).
    schedule_paused_until = models.DateTimeField(null=True, blank=True)
    # Publishing the draft runs the workflow's test suite first and refuses on a failure.
    publish_requires_tests = models.BooleanField(default=False)

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
    # {name, description, workflow_type, trigger, actions, schedule, max_concurrency,
    # overlap_policy}
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


class WorkflowDraft(models.Model):
    """The workflow's unpublished definition: edits saved here do not change what runs until
    they are published (which records a revision). Dry runs and tests can run it first."""

    workflow = models.OneToOneField(
        AutomationWorkflow, on_delete=models.CASCADE, related_name="draft"
    )
    # The revision fields edited: {name, description, workflow_type, trigger, actions, schedule,
    # max_concurrency, overlap_policy}, all of them, as the workflow would be once published.
    definition = models.JSONField(default=dict)
    # The live revision the draft was started from (a publish in between is said, not merged).
    based_on = models.PositiveIntegerField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Draft of workflow {self.workflow_id}"
