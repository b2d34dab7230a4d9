"""Writes on connections, verifying them, and the HTTP auth a connection lends to other calls.

Credentials and the webhook URL are write-only: an update that omits them keeps them; a value given
replaces the old one whole. Every write is validated against the platform first.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import Any, TypedDict

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from integrations.hooks import CONNECTION_CHANGED, CONNECTION_FAILED, CONNECTION_VERIFIED, hooks
from integrations.models import IntegrationConnection
from integrations.platforms.registry import PLATFORMS, platform_get
from integrations.ratelimits.rates import rate_parse

EDITABLE_FIELDS = ("name", "platform", "connection_type", "config", "is_active", "rate_limit")
SECRET_FIELDS = ("credentials", "webhook_url")
# Changing any of these means the last verify no longer says anything about the connection.
REVERIFY_FIELDS = ("platform", "config", *SECRET_FIELDS)
# Secrets belong in credentials; config is shown to anyone who can read the connection.
SECRET_LOOKING_KEYS = {"token", "bot_token", "password", "secret", "signing_secret", "api_key"}


class VerifyOutcome(TypedDict):
    is_verified: bool
    detail: str
    latency_ms: int


class ConnectionAuthError(ValueError):
    """The connection holds nothing to authenticate an HTTP request with."""


def connection_create(
    *,
    name: str,
    platform: str,
    credentials: Mapping[str, Any] | None = None,
    webhook_url: str = "",
    config: Mapping[str, Any] | None = None,
    connection_type: str = "",
    is_active: bool = True,
    rate_limit: str | None = None,
    by: Any = None,
) -> IntegrationConnection:
    """Create a connection; raises ValidationError naming the fields the platform needs. ``by``
    (who asked) goes with the CONNECTION_CHANGED announcement, for the audit trail."""
    connection = IntegrationConnection(
        name=name,
        platform=platform,
        connection_type=connection_type,
        credentials=dict(credentials or {}),
        webhook_url=webhook_url or "",
        config=dict(config or {}),
        is_active=is_active,
        rate_limit=_normalised("rate_limit", rate_limit),
    )
    _validate(connection)
    with transaction.atomic():
        connection.save()
        _announce(connection, "created", [], by)
    return connection


def _announce(connection: IntegrationConnection, action: str, changed: list[str], by: Any) -> None:
    hooks.emit(
        CONNECTION_CHANGED,
        connection_id=connection.pk,
        name=connection.name,
        platform=connection.platform,
        action=action,
        changed=changed,
        by=by,
    )


def connection_update(
    *, connection: IntegrationConnection, data: Mapping[str, Any], by: Any = None
) -> IntegrationConnection:
    """Apply the fields present in ``data`` (EDITABLE_FIELDS and SECRET_FIELDS); absent ones stay.

    A change to the platform, config or a secret clears ``is_verified``. Raises ValidationError.
    """
    changed = [
        key
        for key in (*EDITABLE_FIELDS, *SECRET_FIELDS)
        if key in data and getattr(connection, key) != _normalised(key, data[key])
    ]
    if not changed:
        return connection
    for key in changed:
        setattr(connection, key, _normalised(key, data[key]))
    _validate(connection)
    update_fields = [*changed, "updated_at"]
    if any(key in REVERIFY_FIELDS for key in changed):
        connection.is_verified = False
        update_fields.append("is_verified")
    with transaction.atomic():
        connection.save(update_fields=update_fields)
        _announce(connection, "edited", changed, by)
    return connection


def connection_delete(*, connection: IntegrationConnection, by: Any = None) -> None:
    with transaction.atomic():
        _announce(connection, "deleted", [], by)
        connection.delete()


def connection_verify(*, connection: IntegrationConnection) -> VerifyOutcome:
    """Make the platform's smallest real call and record the result on the connection.

    Returns ``{"is_verified", "detail", "latency_ms"}``; emits connection.verified or
    connection.failed (``connection_id``, ``platform``, ``detail``) once the result is committed.
    """
    started = time.monotonic()
    result = platform_get(connection.platform).verify(connection)
    latency_ms = int((time.monotonic() - started) * 1000)
    now = timezone.now()
    connection.is_verified = result.ok
    connection.last_verified_at = now
    connection.last_error = "" if result.ok else result.detail
    event = CONNECTION_VERIFIED if result.ok else CONNECTION_FAILED
    connection_id, platform = connection.pk, connection.platform
    with transaction.atomic():
        # update(), not save(): only the verify result, never a stale copy of other fields.
        IntegrationConnection.objects.filter(pk=connection_id).update(
            is_verified=result.ok, last_verified_at=now, last_error=connection.last_error
        )
        transaction.on_commit(
            lambda: hooks.emit(
                event, connection_id=connection_id, platform=platform, detail=result.detail
            )
        )
    return {"is_verified": result.ok, "detail": result.detail, "latency_ms": latency_ms}


def connection_auth_headers(connection: IntegrationConnection) -> dict[str, str]:
    """The HTTP headers that authenticate a request as this connection, in this order:

    - ``config.auth_header`` set: that header carries ``credentials.token`` as is (custom header,
      e.g. ``X-API-Key``);
    - ``credentials.token``: ``Authorization: Bearer <token>``;
    - ``credentials.username`` and ``credentials.password``: ``Authorization: Basic …``.

    Raises ConnectionAuthError when the connection holds none of these.
    """
    credentials, config = connection.credentials or {}, connection.config or {}
    token = credentials.get("token")
    header = config.get("auth_header")
    if header and token:
        return {str(header): str(token)}
    if token:
        return {"Authorization": f"Bearer {token}"}
    username, password = credentials.get("username"), credentials.get("password")
    if username and password is not None:
        pair = base64.b64encode(f"{username}:{password}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}
    raise ConnectionAuthError(
        f"connection {connection.pk} ({connection.name}) has no credentials for HTTP auth: set"
        " credentials.token (bearer, or config.auth_header) or credentials.username and password"
    )


def _normalised(key: str, value: Any) -> Any:
    if key in ("credentials", "config"):
        return dict(value or {})
    if key == "webhook_url":
        return value or ""
    if key == "rate_limit":
        return rate_limit_normalised(value)
    return value


def rate_limit_normalised(value: str | None) -> str:
    """The canonical form of a rate limit ("5/s"; "" for none). Raises ValidationError."""
    try:
        rate = rate_parse(value)
    except ValueError as exc:
        raise ValidationError({"rate_limit": [str(exc)]}) from None
    return str(rate) if rate is not None else ""


def connection_validate(
    *,
    platform: str,
    credentials: Mapping[str, Any],
    webhook_url: str,
    config: Mapping[str, Any],
) -> None:
    """Raise ValidationError naming each field the platform finds missing or malformed."""
    shapes = {"credentials": credentials, "config": config}
    not_objects = {name: ["Must be a JSON object."] for name, value in shapes.items()
                   if not isinstance(value, Mapping)}  # fmt: skip
    if not_objects:
        raise ValidationError(not_objects)
    if platform not in PLATFORMS:
        known = ", ".join(PLATFORMS)
        raise ValidationError({"platform": [f"Unknown platform. Known: {known}."]})
    secret_keys = sorted(SECRET_LOOKING_KEYS & set(config))
    if secret_keys:
        raise ValidationError(
            {"config": [f"Put secrets in credentials, not config: {', '.join(secret_keys)}."]}
        )
    platform_get(platform).validate(credentials, webhook_url, config)


def _validate(connection: IntegrationConnection) -> None:
    connection_validate(
        platform=connection.platform,
        credentials=connection.credentials,
        webhook_url=connection.webhook_url,
        config=connection.config,
    )
