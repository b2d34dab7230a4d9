"""Importing a document: validate all of it, then upsert every workflow by name, or nothing.

Each workflow of the document is the whole definition: a field it leaves out takes its default.
A workflow whose name exists is updated (a revision is recorded when its definition changed);
one whose name is new is created; equal definitions are left alone, so importing the same
document twice changes nothing the second time. A dry run reports the same plan and writes
nothing.
"""

from dataclasses import asdict, dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone
from rest_framework import serializers

from core.strict import StrictSerializer, text_field, unknown_keys_errors
from workflows.as_code.document import FORMAT_VERSION, DocumentInvalid, Errors, error_paths
from workflows.as_code.exporting import DOCUMENT_FIELDS
from workflows.as_code.references import ConnectionDirectory
from workflows.definition import definition_validate
from workflows.models import AutomationWorkflow, OverlapPolicy, TriggerType, WorkflowType
from workflows.services.overlap import overlap_settings
from workflows.services.workflows import (
    DEFINITION_FIELDS,
    trigger_anchored,
    workflow_create,
    workflow_update,
)

MAX_WORKFLOWS = 500
DOCUMENT_KEYS = {"version", "workflows"}
DEFAULT_NOTE = "Imported from a workflow document."


class DocumentWorkflowSerializer(StrictSerializer):
    """One workflow of a document, with the defaults a field left out takes; a key it does not
    know is refused, with the field to use when it is a camelCase spelling of one."""

    name = serializers.CharField(max_length=200)
    description = text_field(required=False, default="", allow_blank=True)
    workflow_type = serializers.ChoiceField(
        choices=WorkflowType.choices, required=False, default=WorkflowType.CUSTOM
    )
    trigger = serializers.JSONField(required=False, default=lambda: {"type": TriggerType.MANUAL})
    actions = serializers.JSONField()  # always given: [] when the document leaves it out
    schedule = serializers.CharField(
        required=False, default="", allow_null=True, allow_blank=True, max_length=120
    )
    max_concurrency = serializers.IntegerField(
        required=False, default=None, allow_null=True, min_value=1, max_value=1000
    )
    # Left out: queue with a max_concurrency, else allow.
    overlap_policy = serializers.ChoiceField(choices=OverlapPolicy.choices, required=False)
    is_active = serializers.BooleanField(required=False, default=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["schedule"] = attrs.get("schedule") or ""
        definition_validate(
            trigger=attrs["trigger"], actions=attrs["actions"], schedule=attrs["schedule"]
        )
        return overlap_settings(data=attrs, current=None)


@dataclass
class PlannedWorkflow:
    name: str
    action: str  # created, updated, unchanged
    changed_fields: list[str] = field(default_factory=list)
    id: int | None = None
    data: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class ImportResult:
    dry_run: bool
    workflows: list[PlannedWorkflow]
    warnings: list[str]

    def as_dict(self) -> dict[str, Any]:
        counts = {kind: 0 for kind in ("created", "updated", "unchanged")}
        for planned in self.workflows:
            counts[planned.action] += 1
        rows = [
            {key: value for key, value in asdict(planned).items() if key != "data"}
            for planned in self.workflows
        ]
        return {"dry_run": self.dry_run, **counts, "workflows": rows, "warnings": self.warnings}


def workflows_import(
    *,
    document: Any,
    dry_run: bool = False,
    user: AbstractBaseUser | AnonymousUser | None = None,
    change_note: str = "",
) -> ImportResult:
    """Validate the whole document, then (unless ``dry_run``) apply it in one transaction.

    Raises DocumentInvalid listing every problem by path; then nothing was written.
    """
    entries = _entries(document)
    directory = ConnectionDirectory()
    errors: Errors = {}
    validated = [_validated(entry, index, directory, errors) for index, entry in enumerate(entries)]
    _names_check(entries, errors)
    plan = _plan(validated, errors)
    if errors:
        raise DocumentInvalid(errors)
    warnings = [
        f"{planned.name}: webhook trigger without a signing secret (secrets are never "
        "exported); set webhook_secret through the API."
        for planned in plan
        if planned.action == "created"
        and planned.data["trigger"].get("type") == TriggerType.WEBHOOK
    ]
    if not dry_run:
        _apply(plan, user, change_note or DEFAULT_NOTE)
    return ImportResult(dry_run=dry_run, workflows=plan, warnings=warnings)


def _entries(document: Any) -> list[Any]:
    if not isinstance(document, dict):
        raise DocumentInvalid({"document": ["Must be an object with a 'workflows' list."]})
    errors: Errors = unknown_keys_errors(
        {key: None for key in sorted(document, key=str)}, DOCUMENT_KEYS
    )
    version = document.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        errors["version"] = [
            f"Unsupported version {version!r}; this server reads {FORMAT_VERSION}."
        ]
    entries = document.get("workflows")
    if not isinstance(entries, list):
        errors["workflows"] = ["Required: a list of workflows."]
        raise DocumentInvalid(errors)
    if len(entries) > MAX_WORKFLOWS:
        errors["workflows"] = [f"At most {MAX_WORKFLOWS} workflows per document."]
    if errors:
        raise DocumentInvalid(errors)
    return entries


def _validated(
    entry: Any, index: int, directory: ConnectionDirectory, errors: Errors
) -> dict[str, Any] | None:
    prefix = f"workflows[{index}]"
    if not isinstance(entry, dict):
        errors[prefix] = ["Each workflow must be an object."]
        return None
    resolving: Errors = {}
    actions = directory.actions_resolved(entry.get("actions", []), prefix, resolving)
    errors.update(resolving)
    serializer = DocumentWorkflowSerializer(data={**entry, "actions": actions})
    if not serializer.is_valid():
        # An unresolved reference is reported once, by name, not again as "not an integer".
        for path, messages in error_paths(serializer.errors, prefix).items():
            if path not in resolving:
                errors[path] = messages
        return None
    return None if resolving else dict(serializer.validated_data)


def _names_check(entries: list[Any], errors: Errors) -> None:
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            continue
        first = seen.setdefault(name.strip(), index)
        if first != index:
            errors.setdefault(f"workflows[{index}].name", []).append(
                f"Also the name of workflows[{first}]; names identify workflows, so each is unique."
            )


def _plan(validated: list[dict[str, Any] | None], errors: Errors) -> list[PlannedWorkflow]:
    names = [data["name"] for data in validated if data is not None]
    existing: dict[str, list[AutomationWorkflow]] = {}
    for workflow in AutomationWorkflow.objects.filter(name__in=names).order_by("pk"):
        existing.setdefault(workflow.name, []).append(workflow)
    plan = []
    for index, data in enumerate(validated):
        if data is None:
            continue
        matches = existing.get(data["name"], [])
        if len(matches) > 1:
            ids = ", ".join(str(workflow.pk) for workflow in matches)
            errors[f"workflows[{index}].name"] = [
                f"{len(matches)} workflows are named {data['name']!r} here (ids {ids}); rename "
                "all but one before importing."
            ]
            continue
        if not matches:
            plan.append(PlannedWorkflow(name=data["name"], action="created", data=data))
            continue
        workflow = matches[0]
        # An interval schedule the document gives without start_at keeps the one it has.
        data["trigger"] = trigger_anchored(data["trigger"], workflow.trigger, timezone.now())
        changed = [key for key in DOCUMENT_FIELDS if getattr(workflow, key) != data[key]]
        gated = [key for key in changed if key in DEFINITION_FIELDS]
        if gated and workflow.publish_requires_tests:
            errors[f"workflows[{index}].{gated[0]}"] = [
                f"{data['name']!r} goes live through its draft (publish_requires_tests): "
                f"import leaves it alone; save {', '.join(gated)} with PUT "
                f"workflows/{workflow.pk}/draft, then publish it."
            ]
            continue
        action = "updated" if changed else "unchanged"
        plan.append(PlannedWorkflow(data["name"], action, changed, workflow.pk, data))
    return plan


def _apply(
    plan: list[PlannedWorkflow], user: AbstractBaseUser | AnonymousUser | None, note: str
) -> None:
    with transaction.atomic():
        for planned in plan:
            if planned.action == "created":
                planned.id = workflow_create(data=planned.data, user=user, change_note=note).pk
            elif planned.action == "updated" and planned.id is not None:
                workflow = AutomationWorkflow.objects.get(pk=planned.id)
                workflow_update(workflow=workflow, data=planned.data, user=user, change_note=note)
