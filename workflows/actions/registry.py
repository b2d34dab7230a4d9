"""The only list of action types. Each names its executor class by dotted path, so the kernel
never imports the apps that plug actions into it. Installations add their own action types with
the ACTION_TYPES_EXTRA setting ("type=dotted.path.Class,…")."""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from workflows.actions.base import Action

ACTION_TYPES: dict[str, str] = {
    "api_call": "workflows.actions.api_call.ApiCallAction",
    "transform": "workflows.actions.transform.TransformAction",
    "wait": "workflows.actions.wait.WaitAction",
    "approval": "workflows.actions.approval.ApprovalAction",
    "run_workflow": "workflows.composition.RunWorkflowAction",
    "notify": "alerts.actions.NotifyAction",
    "share": "alerts.actions.ShareAction",
    "publish": "versioning.actions.PublishAction",
    "optimize": "versioning.actions.OptimizeAction",
    "git_commit": "versioning.actions.GitCommitAction",
    "orchestrate": "orchestration.actions.OrchestrateAction",
    "monitor": "analytics.actions.MonitorAction",
}


class UnknownActionType(LookupError):
    pass


def action_types() -> dict[str, str]:
    return {**ACTION_TYPES, **settings.ACTION_TYPES_EXTRA}


@cache
def action_get(action_type: str) -> Action:
    """Return the executor for ``action_type``; raises UnknownActionType."""
    types = action_types()
    try:
        path = types[action_type]
    except KeyError:
        known = ", ".join(sorted(types))
        raise UnknownActionType(f"Unknown action type '{action_type}'. Known: {known}.") from None
    executor: Action = import_string(path)()
    return executor
