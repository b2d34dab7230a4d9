"""The database's rate windows (when there is no Redis). Kept apart from the connections'
model, which imports the platform registry, so that the platforms' throttle reaches it without a
circle; ``integrations.models`` imports it so Django registers it in this app."""

from django.db import models


class ConnectionRateWindow(models.Model):
    """The database's count of a rate-limited connection's recent requests (when there is no
    Redis): the row is locked while a request takes its slot."""

    connection = models.OneToOneField(
        "integrations.IntegrationConnection",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
    )
    # Unix times of the requests granted within the longest window, oldest first.
    grants = models.JSONField(default=list, blank=True)
    # No request before this Unix time: the platform answered 429 with a Retry-After.
    blocked_until = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return f"Rate window of connection {self.connection_id}"
