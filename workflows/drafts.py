"""Drafts: edit a workflow without changing what runs, try it, then publish it.

A workflow has at most one draft (WorkflowDraft): its whole definition as it would be once
published (the revision fields). Saving a draft validates it as a workflow write would, and
writes nothing else. Dry runs and the test suite can run the draft (``draft_applied``: the
workflow in memory with the draft's definition, never saved). Publishing applies what the
draft edits (the fields where it differs from the revision it started from) through
workflow_update, so it records a revision as any edit does, and deletes the draft;
with ``publish_requires_tests`` the suite runs on the draft first and a failure (or no case at
all) refuses the publish, changing nothing.
"""

import copy
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from workflows.models import AutomationWorkflow, WorkflowDraft, WorkflowRevision
from workflows.revisions import (
    REVISION_FIELDS,
    definition_changed_fields,
    definition_snapshot,
    workflow_revision_latest,
)
from workflows.services.audit import Actor
from workflows.services.workflows import User, workflow_audit, workflow_update
from workflows.suites import workflow_tests_run


class NoDraft(Exception):
    """The workflow has no draft."""


@dataclass
class PublishRefused(Exception):
    """The suite did not pass on the draft; ``tests`` is its outcome."""

    message: str
    tests: dict[str, Any]

    def __str__(self) -> str:
        return self.message


def draft_get(workflow: AutomationWorkflow) -> WorkflowDraft:
    draft = WorkflowDraft.objects.filter(workflow=workflow).first()
    if draft is None:
        raise NoDraft(f"Workflow {workflow.pk} has no draft: its edits go live.")
    return draft


def draft_save(
    *, workflow: AutomationWorkflow, data: dict[str, Any], user: User = None,
    actor: Actor | None = None,
) -> WorkflowDraft:  # fmt: skip
    """Save ``data`` (validated revision fields) over the draft, or over the live definition
    when there is no draft yet. The live workflow does not change."""
    with transaction.atomic():
        draft = WorkflowDraft.objects.select_for_update().filter(workflow=workflow).first()
        if draft is None:
            latest = workflow_revision_latest(workflow=workflow)
            draft = WorkflowDraft(workflow=workflow, based_on=latest.number if latest else None)
            draft.definition = definition_snapshot(workflow)
        edits = {key: value for key, value in data.items() if key in REVISION_FIELDS}
        if "schedule" in edits:  # as revisions keep it: null when there is none
            edits["schedule"] = edits["schedule"] or None
        draft.definition = {**draft.definition, **edits}
        draft.updated_by_id = getattr(user, "pk", None)
        draft.save()
        changed = sorted(key for key in data if key in REVISION_FIELDS)
        workflow_audit(actor, "draft_saved", workflow, fields=changed)
    return draft


def draft_applied(workflow: AutomationWorkflow, draft: WorkflowDraft) -> AutomationWorkflow:
    """The workflow as the draft would make it, in memory only (never saved)."""
    applied = copy.copy(workflow)
    for key in REVISION_FIELDS:
        if key in draft.definition:
            value = draft.definition[key]
            setattr(applied, key, (value or "") if key == "schedule" else value)
    return applied


def draft_changes(workflow: AutomationWorkflow, draft: WorkflowDraft) -> list[str]:
    """The revision fields the draft edits: where it differs from the revision it started
    from (or, without one, from the live definition). Only these go live when it is published,
    so an edit made live meanwhile to another field is kept."""
    base = (
        WorkflowRevision.objects.filter(workflow=workflow, number=draft.based_on)
        .values_list("definition", flat=True)
        .first()
        if draft.based_on is not None
        else None
    )
    if base is None:
        base = definition_snapshot(workflow)
    return definition_changed_fields(base, draft.definition)


def draft_discard(*, workflow: AutomationWorkflow, actor: Actor | None = None) -> None:
    with transaction.atomic():
        deleted, _ = WorkflowDraft.objects.filter(workflow=workflow).delete()
        if not deleted:
            raise NoDraft(f"Workflow {workflow.pk} has no draft.")
        workflow_audit(actor, "draft_discarded", workflow)


def draft_publish(
    *, workflow: AutomationWorkflow, user: User = None, change_note: str = "",
    actor: Actor | None = None,
) -> AutomationWorkflow:  # fmt: skip
    """Make the draft live (a new revision) and delete it. Raises NoDraft, PublishRefused
    (the suite failed on the draft, with ``publish_requires_tests``), or
    serializers.ValidationError as workflow_update does."""
    draft = draft_get(workflow)
    if workflow.publish_requires_tests:
        tests = workflow_tests_run(workflow=draft_applied(workflow, draft))
        if tests["failed"] or not tests["passed"]:
            reason = (
                f"{tests['failed']} of {tests['passed'] + tests['failed']} test cases failed"
                if tests["failed"]
                else "the workflow has no test case"
            )
            raise PublishRefused(
                f"Not published: {reason} on the draft (publish_requires_tests).", tests
            )
    with transaction.atomic():
        locked = WorkflowDraft.objects.select_for_update().filter(pk=draft.pk).first()
        if locked is None:
            raise NoDraft(f"Workflow {workflow.pk}'s draft was published or discarded meanwhile.")
        note = change_note or f"Published the draft (started from revision {locked.based_on})."
        edits = {key: locked.definition[key] for key in draft_changes(workflow, locked)}
        workflow = workflow_update(
            workflow=workflow, data=edits, user=user, change_note=note,
            actor=actor, published=True,
        )  # fmt: skip
        locked.delete()
        workflow_audit(actor, "published", workflow, version=workflow.version)
    return workflow
