"""Reads on connections."""

from django.db.models import QuerySet

from integrations.models import IntegrationConnection


def connection_list() -> QuerySet[IntegrationConnection]:
    return IntegrationConnection.objects.all()


def connection_get_active(*, connection_id: int) -> IntegrationConnection | None:
    """The active connection with this id, or None."""
    return IntegrationConnection.objects.filter(pk=connection_id, is_active=True).first()
