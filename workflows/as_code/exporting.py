"""Workflows as a document (a read: nothing is written)."""

from collections.abc import Iterable
from typing import Any

from workflows.as_code.document import FORMAT_VERSION
from workflows.as_code.references import actions_named, connection_ids_referenced, connection_names
from workflows.models import AutomationWorkflow

# The fields of a workflow in a document, in the order they are written.
DOCUMENT_FIELDS = (
    "name", "description", "workflow_type", "trigger", "actions", "schedule", "max_concurrency",
    "overlap_policy", "is_active",
)  # fmt: skip


def workflows_export(*, workflows: Iterable[AutomationWorkflow]) -> dict[str, Any]:
    """``{"version": 1, "workflows": [...]}`` for the given workflows, in the order given, with
    connections referenced by name. Webhook tokens and secrets are left out."""
    workflows = list(workflows)
    names = connection_names(
        set().union(*(connection_ids_referenced(workflow.actions) for workflow in workflows))
    )
    return {
        "version": FORMAT_VERSION,
        "workflows": [_workflow_entry(workflow, names) for workflow in workflows],
    }


def _workflow_entry(workflow: AutomationWorkflow, names: dict[int, str]) -> dict[str, Any]:
    entry = {field: getattr(workflow, field) for field in DOCUMENT_FIELDS}
    entry["schedule"] = workflow.schedule or None
    entry["actions"] = actions_named(workflow.actions, names)
    return entry
