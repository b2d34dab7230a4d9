"""Connections to outside platforms (SPEC §8). Secrets live encrypted in ``credentials`` and
``webhook_url``; ``config`` holds only what may be shown (chat ids, repos, base URLs, hosts)."""

from django.db import models

from integrations.crypto import EncryptedJSONField, EncryptedTextField
from integrations.platforms.registry import platform_choices


class IntegrationConnection(models.Model):
    name = models.CharField(max_length=200)
    platform = models.CharField(max_length=32, choices=platform_choices, db_index=True)
    connection_type = models.CharField(max_length=64, blank=True, default="")
    credentials = EncryptedJSONField()
    webhook_url = EncryptedTextField(blank=True, default="")
    config = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    # "5/s", "60/m", "1000/h": requests on this connection's behalf, across every worker; the
    # empty string for no limit (integrations.ratelimits).
    rate_limit = models.CharField(max_length=32, blank=True, default="")
    is_verified = models.BooleanField(default=False)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["platform", "is_active"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.platform})"

    def api_base(self, default: str) -> str:
        """``config.api_base_url`` without a trailing slash, or ``default`` when unset."""
        base = (self.config or {}).get("api_base_url") or default
        return str(base).rstrip("/")


class ConnectionRateWindow(models.Model):
    """The database's count of a rate-limited connection's recent requests (when there is no
    Redis): the row is locked while a request takes its slot."""

    connection = models.OneToOneField(
        IntegrationConnection, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    # Unix times of the requests granted within the longest window, oldest first.
    grants = models.JSONField(default=list, blank=True)
    # No request before this Unix time: the platform answered 429 with a Retry-After.
    blocked_until = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return f"Rate window of connection {self.connection_id}"
