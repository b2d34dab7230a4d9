"""Reads on workflow revisions: the history, one revision, and the diff between two.

A revision's ``definition`` is the workflow's definition as a client writes it:
``{name, description, workflow_type, trigger, actions, schedule, max_concurrency,
overlap_policy}`` (``schedule`` null when there is none). ``is_active``, the schedule's pause,
counters and webhook secrets are not part of it (a revision recorded before ``overlap_policy``
existed has no such key).
"""

import difflib
import json
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from workflows.models import AutomationWorkflow, WorkflowRevision

REVISION_FIELDS = (
    "name", "description", "workflow_type", "trigger", "actions", "schedule", "max_concurrency",
    "overlap_policy",
)  # fmt: skip


def definition_snapshot(workflow: AutomationWorkflow) -> dict[str, Any]:
    """The workflow's definition as a revision records it."""
    snapshot = {field: getattr(workflow, field) for field in REVISION_FIELDS}
    snapshot["schedule"] = snapshot["schedule"] or None
    return snapshot


def definition_changed_fields(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """The top-level fields whose values differ, in REVISION_FIELDS order (all when no ``old``)."""
    if old is None:
        return [field for field in REVISION_FIELDS if field in new]
    keys = [*REVISION_FIELDS, *sorted((set(old) | set(new)) - set(REVISION_FIELDS))]
    return [key for key in keys if (key in old or key in new) and old.get(key) != new.get(key)]


def definition_text(definition: dict[str, Any]) -> list[str]:
    """The definition pretty-printed as JSON lines, keys sorted, so equal definitions match."""
    return json.dumps(definition, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


@dataclass(frozen=True)
class RevisionDiff:
    """Two revisions of one workflow and what changed from the first to the second."""

    old: WorkflowRevision
    new: WorkflowRevision
    changed_fields: list[str]
    unified: str


def workflow_revision_list(*, workflow: AutomationWorkflow) -> QuerySet[WorkflowRevision]:
    """The workflow's revisions, newest first, without their definitions loaded."""
    return (
        WorkflowRevision.objects.filter(workflow=workflow)
        .select_related("created_by")
        .defer("definition")
        .order_by("-number")
    )


def workflow_revision_get(*, workflow: AutomationWorkflow, number: int) -> WorkflowRevision:
    """Raises WorkflowRevision.DoesNotExist when the workflow has no such revision."""
    return WorkflowRevision.objects.select_related("created_by").get(
        workflow=workflow, number=number
    )


def workflow_revision_latest(*, workflow: AutomationWorkflow) -> WorkflowRevision | None:
    return WorkflowRevision.objects.filter(workflow=workflow).order_by("-number").first()


def workflow_revision_diff(
    *, workflow: AutomationWorkflow, from_number: int, to_number: int
) -> RevisionDiff:
    """The change from revision ``from_number`` to ``to_number`` (any two, either order): the
    changed top-level fields and a unified diff of the pretty-printed definitions. Raises
    WorkflowRevision.DoesNotExist naming the missing number."""
    found = {
        revision.number: revision
        for revision in WorkflowRevision.objects.filter(
            workflow=workflow, number__in=[from_number, to_number]
        )
    }
    for number in (from_number, to_number):
        if number not in found:
            raise WorkflowRevision.DoesNotExist(f"Workflow {workflow.pk} has no revision {number}.")
    old, new = found[from_number], found[to_number]
    unified = "\n".join(
        difflib.unified_diff(
            definition_text(old.definition),
            definition_text(new.definition),
            fromfile=f"revision {from_number}",
            tofile=f"revision {to_number}",
            lineterm="",
        )
    )
    return RevisionDiff(
        old=old,
        new=new,
        changed_fields=definition_changed_fields(old.definition, new.definition),
        unified=unified,
    )
