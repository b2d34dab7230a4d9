"""Writes on workflows. Input arrives validated (see ``workflows.definition``)."""

import secrets
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone

from workflows.models import AutomationWorkflow, TriggerType
from workflows.services.schedules import schedule_sync

DEFINITION_FIELDS = ("trigger", "actions", "schedule")
EDITABLE_FIELDS = (
    "name", "description", "workflow_type", "is_active", "max_concurrency", *DEFINITION_FIELDS,
)  # fmt: skip


def _derive(workflow: AutomationWorkflow) -> None:
    """Fields that follow from the definition: the trigger type and the webhook token."""
    workflow.schedule = workflow.schedule or ""
    workflow.trigger_type = workflow.trigger.get("type", TriggerType.MANUAL)
    if workflow.trigger_type == TriggerType.WEBHOOK and not workflow.webhook_token:
        workflow.webhook_token = secrets.token_urlsafe(32)


def _secret_set(workflow: AutomationWorkflow, secret: str) -> None:
    """A new signing secret; the one it replaces stays valid for WEBHOOK_SECRET_OVERLAP_S."""
    if workflow.webhook_secret and secret != workflow.webhook_secret:
        workflow.webhook_secret_previous = workflow.webhook_secret
        workflow.webhook_secret_rotated_at = timezone.now()
    workflow.webhook_secret = secret


def workflow_create(
    *, data: dict[str, Any], user: AbstractBaseUser | AnonymousUser | None = None
) -> AutomationWorkflow:
    workflow = AutomationWorkflow(**{key: data[key] for key in EDITABLE_FIELDS if key in data})
    _derive(workflow)
    if data.get("webhook_secret"):
        _secret_set(workflow, data["webhook_secret"])
    if user is not None and user.is_authenticated:
        workflow.created_by_id = user.pk
    with transaction.atomic():
        workflow.save()
        schedule_sync(workflow=workflow)
    return workflow


def workflow_update(*, workflow: AutomationWorkflow, data: dict[str, Any]) -> AutomationWorkflow:
    """Apply the given fields; a change to the definition bumps ``version``."""
    changed = [
        key for key in EDITABLE_FIELDS if key in data and getattr(workflow, key) != data[key]
    ]
    new_secret = data.get("webhook_secret")
    if not changed and not new_secret:
        return workflow
    for key in changed:
        setattr(workflow, key, data[key])
    _derive(workflow)
    update_fields = [*changed, "trigger_type", "webhook_token", "updated_at"]
    if new_secret:
        _secret_set(workflow, new_secret)
        update_fields += ["webhook_secret", "webhook_secret_previous", "webhook_secret_rotated_at"]
    if any(key in DEFINITION_FIELDS for key in changed):
        workflow.version += 1
        update_fields.append("version")
    with transaction.atomic():
        workflow.save(update_fields=update_fields)
        schedule_sync(workflow=workflow)
    return workflow


def workflow_set_active(*, workflow: AutomationWorkflow, is_active: bool) -> AutomationWorkflow:
    return workflow_update(workflow=workflow, data={"is_active": is_active})


def workflow_delete(*, workflow: AutomationWorkflow) -> None:
    """Delete the workflow; its executions and their steps go with it, and its schedule."""
    with transaction.atomic():
        workflow.is_active = False
        schedule_sync(workflow=workflow)
        workflow.delete()
