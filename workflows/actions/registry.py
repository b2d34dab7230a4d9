"""The only list of action types. Each names its executor class by dotted path, so the kernel
never imports the apps that plug actions into it."""

from functools import cache

from django.utils.module_loading import import_string

from workflows.actions.base import Action

ACTION_TYPES: dict[str, str] = {
    "api_call": "workflows.actions.api_call.ApiCallAction",
    "transform": "workflows.actions.transform.TransformAction",
}


class UnknownActionType(LookupError):
    pass


@cache
def action_get(action_type: str) -> Action:
    """Return the executor for ``action_type``; raises UnknownActionType."""
    try:
        path = ACTION_TYPES[action_type]
    except KeyError:
        known = ", ".join(sorted(ACTION_TYPES))
        raise UnknownActionType(f"Unknown action type '{action_type}'. Known: {known}.") from None
    executor: Action = import_string(path)()
    return executor
