"""Writes on workflows. Input arrives validated (see ``workflows.definition``)."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction

from workflows.models import AutomationWorkflow

DEFINITION_FIELDS = ("trigger", "actions", "schedule")
EDITABLE_FIELDS = ("name", "description", "workflow_type", "is_active", *DEFINITION_FIELDS)


def workflow_create(
    *, data: dict[str, Any], user: AbstractBaseUser | AnonymousUser | None = None
) -> AutomationWorkflow:
    workflow = AutomationWorkflow(**{key: data[key] for key in EDITABLE_FIELDS if key in data})
    workflow.schedule = workflow.schedule or ""
    workflow.trigger_type = workflow.trigger.get("type", "manual")
    if user is not None and user.is_authenticated:
        workflow.created_by_id = user.pk
    with transaction.atomic():
        workflow.save()
    return workflow


def workflow_update(*, workflow: AutomationWorkflow, data: dict[str, Any]) -> AutomationWorkflow:
    """Apply the given fields; a change to the definition bumps ``version``."""
    changed = [
        key for key in EDITABLE_FIELDS if key in data and getattr(workflow, key) != data[key]
    ]
    if not changed:
        return workflow
    for key in changed:
        setattr(workflow, key, data[key])
    workflow.schedule = workflow.schedule or ""
    workflow.trigger_type = workflow.trigger.get("type", "manual")
    update_fields = [*changed, "trigger_type", "updated_at"]
    if any(key in DEFINITION_FIELDS for key in changed):
        workflow.version += 1
        update_fields.append("version")
    with transaction.atomic():
        workflow.save(update_fields=update_fields)
    return workflow


def workflow_set_active(*, workflow: AutomationWorkflow, is_active: bool) -> AutomationWorkflow:
    return workflow_update(workflow=workflow, data={"is_active": is_active})


def workflow_delete(*, workflow: AutomationWorkflow) -> None:
    """Delete the workflow; its executions and their steps go with it."""
    with transaction.atomic():
        workflow.delete()
