"""What a template can read at each step, from the workflow's recent executions: the trigger
fields seen in their payloads and the earlier steps' outputs in the last run; and the context a
template preview renders with (the last run's)."""

from collections.abc import Iterator, Sequence
from typing import Any

from django.utils import timezone

from workflows.models import AutomationExecution

ALWAYS = ["workflow.id", "workflow.name", "execution.id", "execution.attempt", "now"]
_DEPTH = 3
_MAX_NAMES = 60


def _paths(value: Any, prefix: str, depth: int) -> Iterator[str]:
    yield prefix
    if isinstance(value, dict) and depth > 0:
        for key, item in value.items():
            if isinstance(key, str) and key.isidentifier():
                yield from _paths(item, f"{prefix}.{key}", depth - 1)


def _unique(names: Iterator[str]) -> list[str]:
    return list(dict.fromkeys(names))[:_MAX_NAMES]


def trigger_variables(executions: Sequence[AutomationExecution]) -> list[str]:
    """``trigger.<field>`` for every field of the recent payloads (nested ones too, a few
    levels down)."""
    return _unique(
        name
        for execution in executions
        for name in list(_paths(execution.trigger_payload, "trigger", _DEPTH))[1:]
    )


def step_variables(step_ids: Sequence[str], executions: Sequence[AutomationExecution]) -> list[str]:
    """``steps.<id>`` for each earlier step, with the fields its output had in the last run."""
    outputs = executions[0].context.get("steps", {}) if executions else {}
    outputs = outputs if isinstance(outputs, dict) else {}
    return _unique(
        name for step_id in step_ids for name in _paths(outputs.get(step_id), f"steps.{step_id}", 2)
    )


def variables_by_step(
    step_ids: Sequence[str], executions: Sequence[AutomationExecution]
) -> list[list[str]]:
    """For each step in order, the names its templates can read."""
    trigger = trigger_variables(executions)
    return [
        [*trigger, *step_variables(step_ids[:index], executions), *ALWAYS]
        for index in range(len(step_ids))
    ]


def preview_context(
    executions: Sequence[AutomationExecution], workflow_id: int | None, name: str
) -> dict[str, Any]:
    """What templates see, as in the last run (an empty payload and no outputs before one)."""
    last = executions[0] if executions else None
    context = last.context if last is not None and isinstance(last.context, dict) else {}
    return {
        "trigger": last.trigger_payload if last is not None else {},
        "article": context.get("article"),
        "webhook": context.get("webhook"),
        "workflow": {"id": workflow_id, "name": name},
        "execution": {"id": last.pk if last else None, "attempt": last.attempt if last else 0},
        "steps": context.get("steps", {}),
        "now": timezone.now().isoformat(),
    }
