"""From an event to deliveries: find the alerts that hear it, record a delivery for each (or fold
the event into one already waiting), and wake a worker after commit. Nothing is sent here.

Throttling: with ``throttle_s`` > 0, the first event opens a window of that length and its
delivery waits until the window closes; repeats of the same event for the same workflow inside
the window are logged as ``throttled`` and counted on that delivery, which then sends one message
saying how many there were. Without throttling, every event is delivered at once.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from alerts.messages import connection_link, execution_link, workflow_link
from alerts.models import (
    EVENT_SEVERITY,
    AlertDelivery,
    AlertEvent,
    AutomationAlert,
    DeliveryStatus,
    QuietCounts,
)
from alerts.secrets import alert_redact, connections_secrets
from alerts.selectors import alerts_listening
from alerts.services.deliveries import delivery_schedule
from integrations.models import IntegrationConnection
from workflows.models import (
    AutomationExecution,
    AutomationExecutionStep,
    ExecutionStatus,
    StepStatus,
)

logger = logging.getLogger(__name__)

_FINISHED_EVENTS = {
    "completed": AlertEvent.EXECUTION_COMPLETED,
    "failed": AlertEvent.EXECUTION_FAILED,
}


def alerts_fire_for_execution(
    *, execution_id: int, workflow_id: int, status: str, error: str, execution_time_ms: int
) -> int:
    """React to a finished execution (completed, failed, and slow). Returns deliveries touched."""
    heard = execution_events(status)
    if not heard:
        return 0
    event = heard[0]
    pairs = [
        (alert, name)
        for alert, name in alerts_listening(workflow_id=workflow_id, events=heard)
        if name != AlertEvent.EXECUTION_SLOW
        or execution_time_ms > alert.effective_slow_threshold_ms
    ]
    if not pairs:
        return 0
    facts = _execution_facts(execution_id)
    facts.update(execution_time_ms=execution_time_ms)
    if event == AlertEvent.EXECUTION_FAILED:
        facts.update({"error": error, **_failed_step(execution_id)})
    for alert, name in pairs:
        payload = {**facts, "event": name, "severity": EVENT_SEVERITY[name]}
        if name == AlertEvent.EXECUTION_SLOW:
            payload["threshold_ms"] = alert.effective_slow_threshold_ms
        _record(alert, payload, workflow_id=workflow_id, execution_id=execution_id)
    return len(pairs)


def execution_events(status: str) -> list[str]:
    """The alert events an execution that finished with ``status`` may raise: its own, then
    "slow". None for a cancelled one: somebody chose to stop it, nothing to alert about."""
    event = _FINISHED_EVENTS.get(status)
    return [] if event is None else [event, AlertEvent.EXECUTION_SLOW]


def alerts_fire_for_step(
    *, execution_id: int, workflow_id: int, step_id: str, step_type: str, error: str
) -> int:
    """React to a failed step. Returns deliveries touched."""
    event = AlertEvent.STEP_FAILED
    pairs = alerts_listening(workflow_id=workflow_id, events=[event])
    if not pairs:
        return 0
    facts = _execution_facts(execution_id)
    facts.update(step_id=step_id, step_type=step_type, error=error)
    for alert, _name in pairs:
        payload = {**facts, "event": event, "severity": EVENT_SEVERITY[event]}
        _record(alert, payload, workflow_id=workflow_id, execution_id=execution_id)
    return len(pairs)


def alerts_fire_for_connection(*, connection_id: int, platform: str, detail: str) -> int:
    """React to a connection that failed verification: global alerts only. Returns deliveries."""
    event = AlertEvent.CONNECTION_FAILED
    pairs = alerts_listening(workflow_id=None, events=[event])
    if not pairs:
        return 0
    name = (
        IntegrationConnection.objects.filter(pk=connection_id)
        .values_list("name", flat=True)
        .first()
    )
    payload = {
        "event": event,
        "severity": EVENT_SEVERITY[event],
        "connection": {"id": connection_id, "name": name or f"#{connection_id}",
                       "platform": platform},
        "error": detail,
        "url": connection_link(connection_id),
        "secrets": connections_secrets([connection_id]),
    }  # fmt: skip
    for alert, _name in pairs:
        _record(alert, payload, workflow_id=None, execution_id=None)
    return len(pairs)


def alerts_fire_for_silence(*, now: datetime | None = None) -> int:
    """execution.missing ("did not happen"): for each active alert that watches a workflow for
    ``quiet_minutes``, fire when the workflow has had no successful run (or, by
    ``quiet_counts``, no execution at all) in that many minutes — once per such window: not
    again until another whole window has passed since it fired, nor before a whole window has
    passed since the alert was made. Called every minute by Beat. Returns the alerts fired."""
    now = now or timezone.now()
    fired = 0
    watching = AutomationAlert.objects.filter(
        is_active=True, quiet_minutes__isnull=False, workflow__isnull=False
    ).select_related("workflow")
    for alert in watching:
        assert alert.quiet_minutes is not None and alert.workflow is not None
        if AlertEvent.EXECUTION_MISSING not in alert.events:
            continue
        since = now - timedelta(minutes=alert.quiet_minutes)
        if alert.created_at > since or (alert.last_triggered_at or alert.created_at) > since:
            continue
        runs = AutomationExecution.objects.filter(workflow_id=alert.workflow_id)
        if alert.quiet_counts == QuietCounts.SUCCESS:
            runs = runs.filter(status=ExecutionStatus.COMPLETED)
            moment = "completed_at"
        else:
            moment = "created_at"
        last = runs.order_by(f"-{moment}").values_list(moment, flat=True).first()
        if last is not None and last > since:
            continue
        event = AlertEvent.EXECUTION_MISSING
        payload = {
            "event": event,
            "severity": EVENT_SEVERITY[event],
            "workflow": {"id": alert.workflow_id, "name": alert.workflow.name},
            "quiet_minutes": alert.quiet_minutes,
            "quiet_counts": alert.quiet_counts,
            "last_at": last.isoformat() if last else None,
            "url": workflow_link(alert.workflow.pk),
        }
        _record(alert, payload, workflow_id=alert.workflow_id, execution_id=None, now=now)
        fired += 1
    return fired


def _execution_facts(execution_id: int) -> dict[str, Any]:
    """Workflow, execution and link, plus (under "secrets", never stored) the secrets of every
    connection the execution's steps name, to redact from what the alert says."""
    row = (
        AutomationExecution.objects.filter(pk=execution_id)
        .values("workflow_id", "workflow__name", "definition")
        .first()
    )
    workflow = {"id": row["workflow_id"], "name": row["workflow__name"]} if row else None
    actions = ((row["definition"] or {}) if row else {}).get("actions") or []
    secrets = connections_secrets(_connection_ids(actions))
    return {
        "workflow": workflow,
        "execution_id": execution_id,
        "url": execution_link(execution_id),
        "secrets": secrets,
    }


def _connection_ids(actions: list[Any]) -> set[int]:
    found: set[int] = set()
    for action in actions:
        params = action.get("params") if isinstance(action, dict) else None
        if not isinstance(params, dict):
            continue
        values = [params.get("connection"), *(params.get("connections") or [])]
        found.update(value for value in values if isinstance(value, int))
    return found


def _failed_step(execution_id: int) -> dict[str, Any]:
    """The last failed step's id, type and own error (not the execution's "Step 'x' failed: …")."""
    step = (
        AutomationExecutionStep.objects.filter(execution_id=execution_id, status=StepStatus.FAILED)
        .order_by("-step_index")
        .values("step_id", "step_type", "error_message")
        .first()
    )
    if step is None:
        return {}
    found = {"step_id": step["step_id"], "step_type": step["step_type"]}
    if step["error_message"]:
        found["error"] = step["error_message"]
    return found


def _record(
    alert: AutomationAlert,
    payload: dict[str, Any],
    *,
    workflow_id: int | None,
    execution_id: int | None,
    now: datetime | None = None,
) -> None:
    now = now or timezone.now()
    payload = _redacted(alert, payload)
    event = payload["event"]
    fold_key = f"{event}:{workflow_id or '-'}"
    fields = {
        "alert": alert,
        "event": event,
        "severity": payload["severity"],
        "fold_key": fold_key,
        "workflow_id": workflow_id,
        "execution_id": execution_id,
        "payload": {**payload, "first_at": now.isoformat(), "last_at": now.isoformat()},
    }
    with transaction.atomic():
        # The alert's row lock serialises its events, so two at once cannot both open a window.
        AutomationAlert.objects.select_for_update().filter(pk=alert.pk).first()
        AutomationAlert.objects.filter(pk=alert.pk).update(
            trigger_count=F("trigger_count") + 1, last_triggered_at=now
        )
        if alert.throttle_s and _fold(alert, fold_key, fields, now):
            return
        window = timedelta(seconds=alert.throttle_s)
        delivery = AlertDelivery.objects.create(
            **fields,
            is_open=bool(alert.throttle_s),
            window_ends_at=now + window if alert.throttle_s else None,
        )
        delivery_schedule(delivery_id=delivery.pk, due=now + window, now=now)


def _fold(alert: AutomationAlert, fold_key: str, fields: dict[str, Any], now: datetime) -> bool:
    """Fold the event into the open window for ``fold_key``; False when there is none."""
    carrier = (
        AlertDelivery.objects.select_for_update()
        .filter(alert=alert, fold_key=fold_key, is_open=True)
        .first()
    )
    if carrier is None:
        return False
    if carrier.window_ends_at is None or carrier.window_ends_at <= now:
        # Its window is over; it will be sent as it stands and this event opens a new one.
        AlertDelivery.objects.filter(pk=carrier.pk).update(is_open=False)
        return False
    latest = {**fields["payload"], "first_at": carrier.payload.get("first_at")}
    AlertDelivery.objects.filter(pk=carrier.pk).update(
        folded_count=F("folded_count") + 1, payload=latest
    )
    AlertDelivery.objects.create(**fields, status=DeliveryStatus.THROTTLED, folded_into=carrier)
    return True


def _redacted(alert: AutomationAlert, payload: dict[str, Any]) -> dict[str, Any]:
    facts = {key: value for key, value in payload.items() if key != "secrets"}
    redacted: dict[str, Any] = alert_redact(
        facts, connection_id=alert.connection_id, extra=payload.get("secrets", [])
    )
    return redacted
