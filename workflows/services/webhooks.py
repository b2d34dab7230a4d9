"""Inbound webhook triggers: find the workflow by its URL token, verify the signature on the raw
body before anything is parsed, dedupe by delivery id, and create the execution.

Signatures (when the workflow has a signing secret): ``X-Signature: t=<unix>,v1=<hex
HMAC-SHA256(secret, "<t>.<raw body>")>`` within WEBHOOK_SIGNATURE_TOLERANCE_S either way, or
GitHub's ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>``. During a rotation
the previous secret stays valid for WEBHOOK_SECRET_OVERLAP_S.
"""

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from integrations.signing import github_signature_verify, signature_verify
from workflows.models import AutomationExecution, AutomationWorkflow, TriggerType
from workflows.services.executions import execution_create

DELIVERY_HEADERS = ("X-Delivery-Id", "X-GitHub-Delivery", "Idempotency-Key")
DELIVERY_ID_MAX = 200


class WebhookNotFound(Exception):
    pass


class WebhookInactive(Exception):
    pass


class WebhookUnauthorized(Exception):
    pass


class WebhookBadRequest(Exception):
    pass


def _valid_secrets(workflow: AutomationWorkflow, now: datetime) -> list[str]:
    valid = [workflow.webhook_secret] if workflow.webhook_secret else []
    rotated = workflow.webhook_secret_rotated_at
    overlap = timedelta(seconds=settings.WEBHOOK_SECRET_OVERLAP_S)
    if workflow.webhook_secret_previous and rotated and now - rotated < overlap:
        valid.append(workflow.webhook_secret_previous)
    return valid


def _verify(
    workflow: AutomationWorkflow, body: bytes, headers: Mapping[str, str], now: datetime
) -> None:
    secrets = _valid_secrets(workflow, now)
    if not secrets:
        return
    signature, github = headers.get("X-Signature"), headers.get("X-Hub-Signature-256")
    if signature:
        ok = signature_verify(
            signature,
            body,
            secrets,
            now=int(now.timestamp()),
            tolerance_s=settings.WEBHOOK_SIGNATURE_TOLERANCE_S,
        )
    elif github:
        ok = github_signature_verify(github, body, secrets)
    else:
        raise WebhookUnauthorized("Missing signature: send X-Signature or X-Hub-Signature-256.")
    if not ok:
        raise WebhookUnauthorized("Invalid signature (or its timestamp is outside the tolerance).")


def _payload(body: bytes, content_type: str) -> dict[str, Any]:
    if not body.strip():
        return {}
    if "json" in content_type or body.lstrip()[:1] in (b"{", b"["):
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise WebhookBadRequest("The body is not valid JSON.") from None
        return data if isinstance(data, dict) else {"data": data}
    try:
        return {"body": body.decode()}
    except UnicodeDecodeError:
        raise WebhookBadRequest("The body is neither JSON nor UTF-8 text.") from None


def _delivery_id(headers: Mapping[str, str]) -> str | None:
    for name in DELIVERY_HEADERS:
        value = headers.get(name)
        if value:
            if len(value) > DELIVERY_ID_MAX:
                raise WebhookBadRequest(f"{name} is longer than {DELIVERY_ID_MAX} characters.")
            return value
    return None


def webhook_receive(
    *, token: str, body: bytes, headers: Mapping[str, str], now: datetime
) -> tuple[AutomationExecution, bool]:
    """Create the execution for one delivery; a repeated delivery id returns the first one.

    Raises WebhookNotFound, WebhookInactive, WebhookUnauthorized or WebhookBadRequest.
    """
    workflow = AutomationWorkflow.objects.filter(
        webhook_token=token, trigger_type=TriggerType.WEBHOOK
    ).first()
    if workflow is None or not token:
        raise WebhookNotFound("No webhook at this address.")
    if not workflow.is_active:
        raise WebhookInactive("This workflow is inactive.")
    _verify(workflow, body, headers, now)
    payload = _payload(body, headers.get("Content-Type", ""))
    return execution_create(
        workflow=workflow,
        trigger_type=TriggerType.WEBHOOK,
        payload=payload,
        idempotency_key=_delivery_id(headers),
    )
