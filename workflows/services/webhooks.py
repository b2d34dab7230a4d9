"""Inbound webhook triggers: find the workflow by its URL token, let its sender (``trigger.sender``,
see ``workflows.senders``) verify the raw body before anything is parsed, read the delivery, and
create the execution — deduped by the sender's delivery id, filtered by ``trigger.events``.

During a secret rotation the previous secret stays valid for WEBHOOK_SECRET_OVERLAP_S. The run's
context gets ``webhook``: ``{"sender", "event", "delivery_id", "headers"}`` (an allow-list of the
request's headers, names in lower case); its ``trigger`` is the parsed payload.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from workflows.models import ActorKind, AutomationExecution, AutomationWorkflow, TriggerType
from workflows.senders.base import Delivery, DeliveryInvalid, Sender
from workflows.senders.registry import DEFAULT_SENDER, sender_get
from workflows.services.audit import Actor
from workflows.services.executions import execution_create

DELIVERY_ID_MAX = 200
EVENT_MAX = 200
HEADER_VALUE_MAX = 500
CONTEXT_HEADERS = ("content-type", "user-agent")


class WebhookNotFound(Exception):
    pass


class WebhookInactive(Exception):
    pass


class WebhookUnauthorized(Exception):
    pass


class WebhookBadRequest(Exception):
    pass


@dataclass(frozen=True)
class WebhookOutcome:
    """An execution (``created`` False when the delivery id was seen before), or ``reply``: the
    answer to a delivery that starts nothing — a handshake, or an event the workflow ignores."""

    execution: AutomationExecution | None = None
    created: bool = False
    reply: dict[str, Any] | None = None


def _valid_secrets(workflow: AutomationWorkflow, now: datetime) -> list[str]:
    valid = [workflow.webhook_secret] if workflow.webhook_secret else []
    rotated = workflow.webhook_secret_rotated_at
    overlap = timedelta(seconds=settings.WEBHOOK_SECRET_OVERLAP_S)
    if workflow.webhook_secret_previous and rotated and now - rotated < overlap:
        valid.append(workflow.webhook_secret_previous)
    return valid


def _verify(
    sender: Sender, secrets: list[str], body: bytes, headers: dict[str, str], now: datetime
) -> None:
    if sender.needs_secret and not secrets:
        # Fail closed: a workflow saved before it had a secret must not run unauthenticated.
        raise WebhookUnauthorized(
            f"This workflow's sender ({sender.name}) verifies every delivery, but the workflow "
            f"has no webhook_secret: set it to the secret configured in {sender.label}."
        )
    reason = sender.verify(body=body, headers=headers, secrets=secrets, now=now)
    if reason:
        raise WebhookUnauthorized(reason)


def _ignored_reason(trigger: dict[str, Any], event: str | None) -> str | None:
    events = trigger.get("events")
    if not isinstance(events, list) or event in events:
        return None
    listed = ", ".join(str(name) for name in events)
    if event is None:
        return f"The delivery names no event; trigger.events lists {listed}. Nothing was run."
    return f"Event {event!r} is not in trigger.events ({listed}). Nothing was run."


def _checked(delivery: Delivery, trigger: dict[str, Any]) -> tuple[str | None, str | None]:
    """The delivery's event (or the workflow's ``trigger.event`` when the sender names none) and
    its id, refused when too long to be either."""
    event = delivery.event or trigger.get("event") or None
    if event is not None and len(event) > EVENT_MAX:
        raise WebhookBadRequest(f"The event name is longer than {EVENT_MAX} characters.")
    if delivery.delivery_id is not None and len(delivery.delivery_id) > DELIVERY_ID_MAX:
        raise WebhookBadRequest(f"The delivery id is longer than {DELIVERY_ID_MAX} characters.")
    return event, delivery.delivery_id


def _context(
    sender: Sender, event: str | None, delivery_id: str | None, headers: dict[str, str]
) -> dict[str, Any]:
    allowed = (*CONTEXT_HEADERS, *sender.headers)
    copied = {name: headers[name][:HEADER_VALUE_MAX] for name in allowed if name in headers}
    return {
        "webhook": {
            "sender": sender.name,
            "event": event,
            "delivery_id": delivery_id,
            "headers": copied,
        }
    }


def webhook_receive(
    *, token: str, body: bytes, headers: Mapping[str, str], now: datetime
) -> WebhookOutcome:
    """Verify, read and act on one delivery. Raises WebhookNotFound, WebhookInactive,
    WebhookUnauthorized or WebhookBadRequest."""
    workflow = AutomationWorkflow.objects.filter(
        webhook_token=token, trigger_type=TriggerType.WEBHOOK
    ).first()
    if workflow is None or not token:
        raise WebhookNotFound("No webhook at this address.")
    if not workflow.is_active:
        raise WebhookInactive("This workflow is inactive.")
    trigger = workflow.trigger
    sender = sender_get(str(trigger.get("sender", DEFAULT_SENDER)))
    lowered = {name.lower(): value for name, value in headers.items()}
    _verify(sender, _valid_secrets(workflow, now), body, lowered, now)
    try:
        delivery = sender.parse(body=body, headers=lowered)
    except DeliveryInvalid as exc:
        raise WebhookBadRequest(str(exc)) from None
    if delivery.reply is not None:
        return WebhookOutcome(reply=delivery.reply)
    event, delivery_id = _checked(delivery, trigger)
    reason = _ignored_reason(trigger, event)
    if reason:
        return WebhookOutcome(reply={"ignored": True, "event": event, "reason": reason})
    execution, created = execution_create(
        workflow=workflow,
        trigger_type=TriggerType.WEBHOOK,
        payload=delivery.payload,
        idempotency_key=delivery_id,
        context=_context(sender, event, delivery_id, lowered),
        triggered_by=Actor(ActorKind.WEBHOOK, sender.name, delivery_id),
    )
    return WebhookOutcome(execution=execution, created=created)
