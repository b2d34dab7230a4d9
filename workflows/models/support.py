"""What the kernel keeps beside its runs: API tokens, the effect ledger, the broker's
observed watermarks and the events outbox."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from workflows.models.executions import AutomationExecution


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


class BrokerWatermark(models.Model):
    """What a sweep saw in the broker: at ``observed_at`` every message sent before
    ``watermark`` had left its queue (None: a message of unknown age was waiting). The sweep
    presumes a message lost only once an observation at least its grace old says it had left;
    kept for a few minutes (workflows/dispatch.py)."""

    observed_at = models.DateTimeField(db_index=True)
    watermark = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-observed_at"]

    def __str__(self) -> str:
        return f"{self.watermark} at {self.observed_at}"


class KernelEvent(models.Model):
    """The outbox of the kernel's events (an execution finished, a step failed): written in the
    transaction of the state change that causes it, then handed to the subscribers (the alerts
    app) in a transaction of its own, so a crash between the two loses nothing; the sweep hands
    over what is left (workflows/events.py)."""

    name = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["id"],
                condition=Q(processed_at__isnull=True),
                name="kernel_event_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} #{self.pk}"
