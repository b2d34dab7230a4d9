"""Connections to outside platforms (SPEC §8). Secrets live encrypted in ``credentials`` and
``webhook_url``; ``config`` holds only what may be shown (chat ids, repos, base URLs, hosts)."""

from django.db import models

from integrations.crypto import EncryptedJSONField, EncryptedTextField
from integrations.platforms.registry import platform_choices
from integrations.ratelimits.models import ConnectionRateWindow as ConnectionRateWindow


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
