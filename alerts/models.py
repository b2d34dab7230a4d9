"""Alerts (SPEC §5): who hears about which events, the log of every delivery, in-app notifications,
and the ledger of share posts (so a retried share step never posts to a connection twice)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from alerts.channel_registry import channel_choices


class AlertType(models.TextChoices):
    FAILURE = "failure", "Failure"
    SUCCESS = "success", "Success"
    PERFORMANCE = "performance", "Performance"
    CONNECTION = "connection", "Connection"
    ABSENCE = "absence", "Did not happen"


class AlertEvent(models.TextChoices):
    EXECUTION_COMPLETED = "execution.completed", "Execution completed"
    EXECUTION_FAILED = "execution.failed", "Execution failed"
    STEP_FAILED = "step.failed", "Step failed"
    EXECUTION_SLOW = "execution.slow", "Execution slow"
    CONNECTION_FAILED = "connection.failed", "Connection failed"
    EXECUTION_MISSING = "execution.missing", "No run in time"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


SEVERITY_RANK: dict[str, int] = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}

# The severity of each event; an alert hears events at or above its own severity.
EVENT_SEVERITY: dict[str, str] = {
    AlertEvent.EXECUTION_COMPLETED: Severity.INFO,
    AlertEvent.EXECUTION_FAILED: Severity.CRITICAL,
    AlertEvent.STEP_FAILED: Severity.WARNING,
    AlertEvent.EXECUTION_SLOW: Severity.WARNING,
    AlertEvent.CONNECTION_FAILED: Severity.CRITICAL,
    AlertEvent.EXECUTION_MISSING: Severity.WARNING,
}

# The events an alert listens to when it is created without a list.
DEFAULT_EVENTS = {
    AlertType.FAILURE: [AlertEvent.EXECUTION_FAILED],
    AlertType.SUCCESS: [AlertEvent.EXECUTION_COMPLETED],
    AlertType.PERFORMANCE: [AlertEvent.EXECUTION_SLOW],
    AlertType.CONNECTION: [AlertEvent.CONNECTION_FAILED],
    AlertType.ABSENCE: [AlertEvent.EXECUTION_MISSING],
}


# The longest silence an execution.missing alert watches for: 30 days.
QUIET_MINUTES_MAX = 30 * 24 * 60


class QuietCounts(models.TextChoices):
    """What breaks an execution.missing alert's silence."""

    SUCCESS = "success", "A successful run"
    EXECUTION = "execution", "Any execution"


class AutomationAlert(models.Model):
    name = models.CharField(max_length=200)
    workflow = models.ForeignKey(
        "workflows.AutomationWorkflow",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alerts",
        help_text="Empty: every workflow.",
    )
    alert_type = models.CharField(
        max_length=16, choices=AlertType.choices, default=AlertType.FAILURE
    )
    channel = models.CharField(max_length=16, choices=channel_choices())
    # Deleting a connection leaves its alerts without one: their deliveries then fail, each
    # logged with the reason, until the alert is given a new connection.
    connection = models.ForeignKey(
        "integrations.IntegrationConnection",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
    )
    # Email addresses (email) or usernames (in_app; empty = every staff user).
    recipients = models.JSONField(default=list, blank=True)
    events = models.JSONField(default=list)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.INFO)
    throttle_s = models.PositiveIntegerField(
        default=0, help_text="Events within this many seconds are folded into one message."
    )
    slow_threshold_ms = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="execution.slow fires above this; empty: the ALERT_SLOW_THRESHOLD_MS setting.",
    )
    # execution.missing: fires when the workflow has had none of ``quiet_counts`` for this many
    # minutes, once per such window.
    quiet_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="execution.missing fires after this many minutes without a run (or success).",
    )
    quiet_counts = models.CharField(
        max_length=16, choices=QuietCounts.choices, default=QuietCounts.SUCCESS
    )
    is_active = models.BooleanField(default=True)

    trigger_count = models.PositiveIntegerField(default=0, editable=False)
    success_count = models.PositiveIntegerField(default=0, editable=False)
    failure_count = models.PositiveIntegerField(default=0, editable=False)
    last_triggered_at = models.DateTimeField(null=True, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["is_active", "workflow"], name="alert_active_workflow")]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_slow_threshold_ms(self) -> int:
        if self.slow_threshold_ms is not None:
            return self.slow_threshold_ms
        return int(settings.ALERT_SLOW_THRESHOLD_MS)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    THROTTLED = "throttled", "Throttled (folded into another delivery)"


class AlertDelivery(models.Model):
    """One message to send for an alert, or (status ``throttled``) an event folded into one.

    A pending delivery with ``is_open`` still accepts repeats of its event until
    ``window_ends_at``; it is sent once the window closed, counting ``folded_count`` events.
    """

    alert = models.ForeignKey(AutomationAlert, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, choices=AlertEvent.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    # Which repeats fold together: the event and the workflow it concerns.
    fold_key = models.CharField(max_length=100)
    folded_count = models.PositiveIntegerField(default=1)
    folded_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="folded"
    )
    is_open = models.BooleanField(default=False)
    window_ends_at = models.DateTimeField(null=True, blank=True)

    workflow_id = models.BigIntegerField(null=True, blank=True)
    execution_id = models.BigIntegerField(null=True, blank=True)
    # What the message says, with every known secret redacted.
    payload = models.JSONField(default=dict, blank=True)

    attempts = models.PositiveIntegerField(default=0)
    attempt_log = models.JSONField(default=list, blank=True)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "alert deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "fold_key"],
                condition=Q(is_open=True),
                name="alert_delivery_one_open_window",
            ),
        ]
        indexes = [
            models.Index(fields=["alert", "-created_at"], name="delivery_alert_created"),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_pending_due",
            ),
        ]

    def __str__(self) -> str:
        return f"Delivery {self.pk} of alert {self.alert_id} ({self.event}, {self.status})"


class Notification(models.Model):
    """An in-app notification for one user, shown in the dashboard until read."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True, default="")
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.INFO)
    link = models.CharField(max_length=500, blank=True, default="")
    is_read = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["user", "is_read", "-id"], name="notification_user_unread"),
        ]

    def __str__(self) -> str:
        return f"{self.title} → {self.user}"
