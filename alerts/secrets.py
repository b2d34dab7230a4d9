"""The secrets to redact from what an alert stores or says: those of the connections involved,
plus every secret this process has decrypted. A connection whose secrets no configured key opens
contributes none (they cannot appear in anything this process produced)."""

from collections.abc import Iterable
from typing import Any

from integrations.crypto import DecryptionError
from integrations.models import IntegrationConnection
from integrations.redaction import redact, secrets_of, secrets_registered


def connections_secrets(connection_ids: Iterable[int]) -> list[str]:
    ids = list(connection_ids)
    if not ids:
        return []
    try:
        connections = list(IntegrationConnection.objects.filter(pk__in=ids))
    except DecryptionError:
        return []
    return [secret for connection in connections for secret in secrets_of(connection)]


def alert_redact(value: Any, *, connection_id: int | None, extra: Iterable[str] = ()) -> Any:
    """``value`` with the secrets of the alert's connection, ``extra`` and every secret this
    process has seen replaced by "[redacted]"."""
    own = connections_secrets([connection_id] if connection_id else [])
    return redact(value, [*own, *extra, *secrets_registered()])
