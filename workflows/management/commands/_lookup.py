"""What several operator commands share: finding a workflow by name, reading a JSON payload,
and describing an execution in one line."""

from typing import Any

from django.core.management.base import CommandError

from core.parsing import json_loads
from workflows.models import AutomationExecution, AutomationWorkflow

# Usage errors (unknown names, malformed values) exit with 2, as argparse's own errors do.
USAGE_ERROR = 2


def workflow_find(name: str) -> AutomationWorkflow:
    """The workflow named ``name``, or whose id it is when no workflow has that name.

    Raises CommandError (exit 2) when there is none, or when several share the name.
    """
    matches = list(AutomationWorkflow.objects.filter(name=name).order_by("pk")[:10])
    if len(matches) == 1:
        return matches[0]
    if matches:
        ids = ", ".join(str(workflow.pk) for workflow in matches)
        raise CommandError(
            f"{len(matches)} workflows are named {name!r} (ids {ids}); give the id instead.",
            returncode=USAGE_ERROR,
        )
    if name.isdigit():
        workflow = AutomationWorkflow.objects.filter(pk=int(name)).first()
        if workflow is not None:
            return workflow
    raise CommandError(f"No workflow named {name!r}.", returncode=USAGE_ERROR)


def payload_parse(text: str) -> dict[str, Any]:
    """A trigger payload from the command line: a JSON object. Raises CommandError (exit 2)."""
    try:
        payload = json_loads(text)
    except ValueError as exc:
        raise CommandError(f"--payload is not valid JSON: {exc}", returncode=USAGE_ERROR) from None
    if not isinstance(payload, dict):
        raise CommandError(
            "--payload must be a JSON object, e.g. '{\"post_id\": 7}'.", returncode=USAGE_ERROR
        )
    return payload


def execution_line(execution: AutomationExecution) -> str:
    """``id  workflow  status  trigger  created  time  steps  error`` in fixed columns."""
    created = execution.created_at.strftime("%Y-%m-%d %H:%M:%S")
    took = f"{execution.execution_time_ms} ms" if execution.execution_time_ms is not None else "-"
    steps = f"{execution.steps_completed}/{execution.steps_total}"
    error = execution.error_message.replace("\n", " ")[:80]
    name = execution.workflow.name[:30]
    return (
        f"{execution.pk:>8}  {name:<30}  {execution.status:<9}  {execution.trigger_type:<8}  "
        f"{created}  {took:>10}  {steps:>5}  {error}"
    ).rstrip()


EXECUTION_HEADER = (
    f"{'ID':>8}  {'WORKFLOW':<30}  {'STATUS':<9}  {'TRIGGER':<8}  {'CREATED (UTC)':<19}  "
    f"{'TIME':>10}  {'STEPS':>5}  ERROR"
)
