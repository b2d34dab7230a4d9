"""Writes on workflows. Input arrives validated (see ``workflows.definition``)."""

import secrets
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone
from rest_framework import serializers

from workflows.definition import definition_validate
from workflows.models import AutomationWorkflow, TriggerType, WorkflowRevision
from workflows.revisions import (
    REVISION_FIELDS,
    definition_changed_fields,
    definition_snapshot,
    workflow_revision_get,
)
from workflows.services.audit import Actor, audit_record
from workflows.services.overlap import overlap_settings
from workflows.services.schedules import schedule_sync

User = AbstractBaseUser | AnonymousUser | None
CHANGE_NOTE_MAX = 500

DEFINITION_FIELDS = ("trigger", "actions", "schedule")
EDITABLE_FIELDS = (
    "name", "description", "workflow_type", "is_active", "max_concurrency", "overlap_policy",
    "schedule_paused_until", "publish_requires_tests", *DEFINITION_FIELDS,
)  # fmt: skip


def trigger_anchored(trigger: Any, previous: Any, now: datetime) -> Any:
    """An interval schedule without ``start_at`` counts its slots from the moment it was set:
    ``now``, or the anchor ``previous`` (the trigger being replaced) already had when the
    interval is the same, so saving the trigger again (an edit of another key, a re-imported
    document, a restored revision) never moves its slots."""
    if not (
        isinstance(trigger, dict)
        and trigger.get("type") == TriggerType.SCHEDULE
        and trigger.get("interval_s")
        and trigger.get("start_at") is None
    ):
        return trigger
    kept = (
        previous.get("start_at")
        if isinstance(previous, dict)
        and previous.get("type") == TriggerType.SCHEDULE
        and previous.get("interval_s") == trigger["interval_s"]
        else None
    )
    return {**trigger, "start_at": kept or now.replace(microsecond=0).isoformat()}


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


def _user_id(user: User) -> int | None:
    return user.pk if user is not None and user.is_authenticated else None


def _revision_record(
    workflow: AutomationWorkflow, user: User, change_note: str
) -> WorkflowRevision:
    """Record the workflow's definition as its next revision. Called in the transaction that
    wrote the workflow's row: that write holds the row lock, so two changes of one workflow
    number their revisions one after the other (the unique constraint backs it)."""
    previous = WorkflowRevision.objects.filter(workflow=workflow).order_by("-number").first()
    definition = definition_snapshot(workflow)
    return WorkflowRevision.objects.create(
        workflow=workflow,
        number=(previous.number if previous else 0) + 1,
        definition=definition,
        changed_fields=definition_changed_fields(
            previous.definition if previous else None, definition
        ),
        change_note=change_note[:CHANGE_NOTE_MAX],
        created_by_id=_user_id(user),
    )


def workflow_audit(
    actor: Actor | None, action: str, workflow: AutomationWorkflow, **detail: Any
) -> None:
    """Record what a person did to the workflow in the audit trail."""
    audit_record(
        actor=actor,
        action=action,
        object_type="workflow",
        object_id=workflow.pk,
        detail={"name": workflow.name, **detail},
    )


def workflow_create(
    *,
    data: dict[str, Any],
    user: User = None,
    change_note: str = "",
    actor: Actor | None = None,
) -> AutomationWorkflow:
    """Create the workflow and its revision 1; the ``actor`` is audited. Raises
    serializers.ValidationError when ``max_concurrency`` goes with a policy other than queue."""
    data = overlap_settings(data=data, current=None)
    workflow = AutomationWorkflow(**{key: data[key] for key in EDITABLE_FIELDS if key in data})
    workflow.trigger = trigger_anchored(workflow.trigger, None, timezone.now())
    _derive(workflow)
    if data.get("webhook_secret"):
        _secret_set(workflow, data["webhook_secret"])
    workflow.created_by_id = _user_id(user)
    with transaction.atomic():
        workflow.save()
        _revision_record(workflow, user, change_note)
        schedule_sync(workflow=workflow)
        workflow_audit(actor, "created", workflow)
    return workflow


def _normalised(key: str, value: Any) -> Any:
    # A schedule is stored as "" when there is none; clients and revisions say null.
    return (value or "") if key == "schedule" else value


def workflow_update(
    *,
    workflow: AutomationWorkflow,
    data: dict[str, Any],
    user: User = None,
    change_note: str = "",
    actor: Actor | None = None,
    published: bool = False,
) -> AutomationWorkflow:
    """Apply the given fields; a change to the definition bumps ``version``, and a change to any
    field of a revision (REVISION_FIELDS) records the next revision, by ``user`` with
    ``change_note``; the ``actor`` is audited with the fields changed. Nothing changed: nothing
    is written. ``workflow`` is refreshed.

    Concurrent edits of one workflow take turns on its row lock: each compares with, and bumps
    the version of, what the one before it wrote. Raises serializers.ValidationError when
    ``max_concurrency`` would go with an overlap policy other than queue (overlap.py), and when
    the definition (trigger, actions, schedule) of a workflow with ``publish_requires_tests``
    would change other than by publishing its draft (``published``) or restoring a revision."""
    with transaction.atomic():
        locked = AutomationWorkflow.objects.select_for_update().get(pk=workflow.pk)
        data = overlap_settings(data=data, current=locked)
        if "trigger" in data:
            trigger = trigger_anchored(data["trigger"], locked.trigger, timezone.now())
            data = {**data, "trigger": trigger}
        changed = [
            key
            for key in EDITABLE_FIELDS
            if key in data and getattr(locked, key) != _normalised(key, data[key])
        ]
        gated = [key for key in changed if key in DEFINITION_FIELDS]
        if gated and locked.publish_requires_tests and not published:
            message = (
                "This workflow goes live through its draft (publish_requires_tests): save the "
                f"change with PUT workflows/{locked.pk}/draft, then publish it."
            )
            raise serializers.ValidationError({key: [message] for key in gated})
        new_secret = data.get("webhook_secret")
        if changed or new_secret:
            _changes_save(locked, data, changed, new_secret, user, change_note)
            fields = sorted({*changed, *(["webhook_secret"] if new_secret else [])})
            workflow_audit(actor, "updated", locked, fields=fields)
    workflow.refresh_from_db()
    return workflow


def _changes_save(
    workflow: AutomationWorkflow,
    data: dict[str, Any],
    changed: list[str],
    new_secret: str | None,
    user: User,
    change_note: str,
) -> None:
    for key in changed:
        setattr(workflow, key, _normalised(key, data[key]))
    _derive(workflow)
    update_fields = [*changed, "trigger_type", "webhook_token", "updated_at"]
    if new_secret:
        _secret_set(workflow, new_secret)
        update_fields += ["webhook_secret", "webhook_secret_previous", "webhook_secret_rotated_at"]
    if any(key in DEFINITION_FIELDS for key in changed):
        workflow.version += 1
        update_fields.append("version")
    workflow.save(update_fields=update_fields)
    if any(key in REVISION_FIELDS for key in changed):
        _revision_record(workflow, user, change_note)
    schedule_sync(workflow=workflow)


def workflow_revision_restore(
    *, workflow: AutomationWorkflow, number: int, user: User = None, change_note: str = ""
) -> AutomationWorkflow:
    """Make revision ``number``'s definition the workflow's again, through workflow_update, so
    the restore is recorded as a new revision (history is never rewritten). A definition equal
    to the current one changes nothing.

    Raises WorkflowRevision.DoesNotExist, and serializers.ValidationError when the old
    definition is no longer valid (e.g. a connection it names was deleted).
    """
    revision = workflow_revision_get(workflow=workflow, number=number)
    data = {key: revision.definition[key] for key in REVISION_FIELDS if key in revision.definition}
    definition_validate(
        trigger=data.get("trigger", workflow.trigger),
        actions=data.get("actions", workflow.actions),
        schedule=data.get("schedule", workflow.schedule),
    )
    note = change_note or f"Restored revision {number}."
    return workflow_update(
        workflow=workflow, data=data, user=user, change_note=note, published=True
    )


def workflow_set_active(*, workflow: AutomationWorkflow, is_active: bool) -> AutomationWorkflow:
    return workflow_update(workflow=workflow, data={"is_active": is_active})


def workflow_delete(*, workflow: AutomationWorkflow, actor: Actor | None = None) -> None:
    """Delete the workflow; its executions and their steps go with it, and its schedule. The
    ``actor`` is audited (the entry outlives the workflow)."""
    with transaction.atomic():
        workflow_audit(actor, "deleted", workflow, executions=workflow.executions.count())
        workflow.is_active = False
        schedule_sync(workflow=workflow)
        workflow.delete()
