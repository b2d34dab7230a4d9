"""Dry runs: what a workflow would do with a sample payload, with no side effect at all.

Every condition is evaluated and every step's input rendered and validated, as a real run
would; steps without side effects (``transform``) are computed so later steps see their output.
A step with side effects is not run: its output is a placeholder that renders as
``<output of <step>.<path>, known at run time>``, and what it would have sent is reported. No
HTTP request leaves and no row is written.
"""

from typing import Any

from django.utils import timezone
from rest_framework import serializers

from workflows.actions.base import ActionError, StepRun
from workflows.actions.registry import UnknownActionType, action_get
from workflows.models import AutomationWorkflow
from workflows.services.executions import context_for
from workflows.templating import TemplateError, condition_evaluate, params_render


class RunTimeValue(dict[str, Any]):
    """Stands for a step output that only a real run knows; any path into it is another one."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: Any) -> "RunTimeValue":
        return RunTimeValue(f"{self.path}.{key}")

    def __str__(self) -> str:
        return f"<output of {self.path}, known at run time>"

    __repr__ = __str__


def _plain(value: Any) -> Any:
    """The rendered input as JSON: placeholders become their description."""
    if isinstance(value, RunTimeValue):
        return str(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _uses_run_time_values(value: Any) -> bool:
    if isinstance(value, RunTimeValue):
        return True
    if isinstance(value, dict):
        return any(_uses_run_time_values(item) for item in value.values())
    if isinstance(value, list):
        return any(_uses_run_time_values(item) for item in value)
    return isinstance(value, str) and "known at run time>" in value


def _step(action: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = {"id": action.get("id"), "type": action.get("type")}
    condition = action.get("condition")
    try:
        if condition and not _condition(condition, context, report):
            context["steps"][action["id"]] = {}
            return {**report, "would": "skip", "reason": f"condition is false: {condition}"}
        executor = action_get(action["type"])
        params = params_render(action.get("params", {}), context)
        report["input"] = _plain(params)
        deferred = _uses_run_time_values(params)
        if not deferred:
            params = executor.validate(params, rendered=True)
    except (TemplateError, UnknownActionType) as exc:
        return {**report, "would": "fail", "problems": [str(exc)]}
    except serializers.ValidationError as exc:
        return {**report, "would": "fail", "problems": [f"invalid params: {exc.detail}"]}
    if executor.side_effects or deferred:
        context["steps"][action["id"]] = RunTimeValue(action["id"])
        return {**report, "would": "run", "side_effects": executor.side_effects}
    return {**report, **_compute(executor, params, action, context)}


def _condition(condition: str, context: dict[str, Any], report: dict[str, Any]) -> bool:
    """True or False; a condition on outputs only a real run knows counts as true, and says so."""
    try:
        return condition_evaluate(condition, context)
    except TemplateError:
        if not any(isinstance(out, RunTimeValue) for out in context["steps"].values()):
            raise
        report["reason"] = f"condition decided at run time: {condition}"
        return True


def _compute(
    executor: Any, params: dict[str, Any], action: dict[str, Any], context: dict[str, Any]
) -> dict[str, Any]:
    run = StepRun(
        execution_id=0, workflow_id=0, step_id=action["id"], attempt=1, timeout_s=1, context=context
    )
    try:
        output = executor.run(params, run)
    except ActionError as exc:
        context["steps"][action["id"]] = RunTimeValue(action["id"])
        return {"would": "fail", "problems": [exc.message]}
    context["steps"][action["id"]] = output
    return {"would": "run", "side_effects": False, "output": _plain(output)}


def workflow_dry_run(*, workflow: AutomationWorkflow, payload: dict[str, Any]) -> dict[str, Any]:
    """Report, step by step, what a run with ``payload`` would do: run, skip or fail (and why),
    with each step's rendered input. Writes nothing and sends nothing."""
    base = context_for(payload, None)
    context = {
        "trigger": payload,
        "article": base.get("article"),
        "webhook": base.get("webhook"),
        "workflow": {"id": workflow.pk, "name": workflow.name},
        "execution": {"id": None, "attempt": 1},
        "steps": {},
        "now": timezone.now().isoformat(),
    }
    steps = [_step(action, context) for action in workflow.actions]
    return {
        "workflow_id": workflow.pk,
        "version": workflow.version,
        "steps": steps,
        "would_fail": any(step["would"] == "fail" for step in steps),
    }
