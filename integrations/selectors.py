"""Reads on connections."""

from django.db.models import QuerySet

from integrations.models import IntegrationConnection
from integrations.platforms.registry import platform_get


def connection_list() -> QuerySet[IntegrationConnection]:
    return IntegrationConnection.objects.all()


def connection_get_active(*, connection_id: int) -> IntegrationConnection | None:
    """The active connection with this id, or None."""
    return IntegrationConnection.objects.filter(pk=connection_id, is_active=True).first()


def connection_url(connection_id: int) -> str:
    """Where the connection's requests go: its webhook URL, else its platform's API base (with
    ``config.api_base_url``); "" for an unknown connection or one that sends no HTTP."""
    connection = IntegrationConnection.objects.filter(pk=connection_id).first()
    if connection is None:
        return ""
    if connection.webhook_url:
        return str(connection.webhook_url)
    root = platform_get(connection.platform).api_root
    return connection.api_base(root) if root else ""
