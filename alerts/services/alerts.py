"""Writes on alerts: validate, create, update, delete, and send a test message now."""

import logging
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from django.db import transaction
from django.http import HttpRequest
from rest_framework.exceptions import ValidationError

from alerts.channel_registry import UnknownChannel, channel_get
from alerts.channels.base import Message, Target
from alerts.models import DEFAULT_EVENTS, AlertEvent, AlertType, AutomationAlert
from alerts.secrets import alert_redact
from core.site import absolute_url
from integrations.models import IntegrationConnection
from workflows.services.audit import Actor, audit_record

logger = logging.getLogger(__name__)

FIELDS = (
    "name",
    "workflow",
    "alert_type",
    "channel",
    "connection",
    "recipients",
    "events",
    "severity",
    "throttle_s",
    "slow_threshold_ms",
    "quiet_minutes",
    "quiet_counts",
    "is_active",
)


class TestOutcome(TypedDict):
    delivered: bool
    detail: str


def alert_validate(
    *,
    channel: str,
    connection: IntegrationConnection | None,
    recipients: Sequence[str],
    events: Sequence[str],
    alert_type: str = AlertType.FAILURE,
    workflow_id: int | None = None,
    quiet_minutes: int | None = None,
) -> None:
    """Raise ValidationError naming each field that does not fit the channel or the events."""
    errors: dict[str, Any] = {}
    unknown = [event for event in events if event not in AlertEvent.values]
    if unknown:
        known = ", ".join(AlertEvent.values)
        errors["events"] = [f"Unknown events: {', '.join(map(str, unknown))}. Known: {known}."]
    heard = list(events) or list(DEFAULT_EVENTS.get(AlertType(alert_type), []))
    errors.update(_quiet_errors(heard, workflow_id, quiet_minutes))
    try:
        channel_get(channel).validate(connection=connection, recipients=recipients)
    except UnknownChannel as exc:
        errors["channel"] = [str(exc)]
    except ValidationError as exc:
        assert isinstance(exc.detail, dict)
        errors.update(exc.detail)
    if errors:
        raise ValidationError(errors)


def _quiet_errors(
    events: Sequence[str], workflow_id: int | None, quiet_minutes: int | None
) -> dict[str, list[str]]:
    """execution.missing watches one workflow for ``quiet_minutes``; nothing else takes them."""
    if AlertEvent.EXECUTION_MISSING not in events:
        if quiet_minutes is not None:
            return {"quiet_minutes": ["Only goes with the execution.missing event."]}
        return {}
    errors: dict[str, list[str]] = {}
    if workflow_id is None:
        errors["workflow"] = ["execution.missing watches one workflow: name it."]
    if quiet_minutes is None:
        errors["quiet_minutes"] = [
            "execution.missing needs the minutes without a run after which it fires."
        ]
    return errors


def _audit(actor: Actor | None, action: str, alert: AutomationAlert, changed: list[str]) -> None:
    detail: dict[str, Any] = {"name": alert.name, "channel": alert.channel}
    if changed:
        detail["changed"] = changed
    audit_record(actor=actor, action=action, object_type="alert", object_id=alert.pk, detail=detail)


def alert_create(*, data: Mapping[str, Any], actor: Actor | None = None) -> AutomationAlert:
    """Create an alert from validated fields; without ``events``, those of its alert type. The
    ``actor`` is audited."""
    alert = AutomationAlert(**{key: data[key] for key in FIELDS if key in data})
    if not alert.events:
        alert.events = list(DEFAULT_EVENTS[AlertType(alert.alert_type)])
    _validate(alert)
    with transaction.atomic():
        alert.save()
        _audit(actor, "created", alert, [])
    return alert


def alert_update(
    *, alert: AutomationAlert, data: Mapping[str, Any], actor: Actor | None = None
) -> AutomationAlert:
    """Apply the fields present in ``data``; counters never change here. The ``actor`` is
    audited with the names of the fields changed."""
    changed = [key for key in FIELDS if key in data and getattr(alert, key) != data[key]]
    for key in FIELDS:
        if key in data:
            setattr(alert, key, data[key])
    if not alert.events:
        alert.events = list(DEFAULT_EVENTS[AlertType(alert.alert_type)])
    _validate(alert)
    with transaction.atomic():
        alert.save()
        if changed:
            _audit(actor, "edited", alert, changed)
    return alert


def alert_delete(*, alert: AutomationAlert, actor: Actor | None = None) -> None:
    with transaction.atomic():
        _audit(actor, "deleted", alert, [])
        alert.delete()


def alert_test(*, alert: AutomationAlert, request: HttpRequest | None = None) -> TestOutcome:
    """Send a test message through the alert's channel now. Never raises for the target's
    faults; returns ``{"delivered", "detail"}``. Counters and the delivery log are left alone.
    ``request``, when the test is asked for over HTTP, is where the message's link points."""
    message = Message(
        text=(
            f"This is a test of alert '{alert.name}' ({alert.channel}). If you can read it, the "
            "alert reaches you."
        ),
        title=f"Test alert: {alert.name}",
        severity=alert.severity,
        url=absolute_url("/dashboard/", request),
        data={"event": "alert.test", "alert_id": alert.pk},
    )
    target = Target(connection=alert.connection, recipients=list(alert.recipients or []))
    try:
        result = channel_get(alert.channel).send(target, message)
    except Exception:  # a broken channel answers as a failed test, not as a server error
        logger.exception("alert %s: the %s channel crashed on a test", alert.pk, alert.channel)
        return {"delivered": False, "detail": f"internal error in the {alert.channel} channel"}
    detail = alert_redact(result.detail, connection_id=alert.connection_id)
    return {"delivered": result.ok, "detail": str(detail)}


def _validate(alert: AutomationAlert) -> None:
    alert_validate(
        channel=alert.channel,
        connection=alert.connection,
        recipients=list(alert.recipients or []),
        events=list(alert.events or []),
        alert_type=alert.alert_type,
        workflow_id=alert.workflow_id,
        quiet_minutes=alert.quiet_minutes,
    )
