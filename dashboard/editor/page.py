"""The workflow page's definition, as the editor holds it between requests (``Draft``): read
from the posted forms or JSON boxes, changed by the editor's buttons, and turned into what the
template shows.

The page posts in one of two modes (the hidden ``editor_mode``): ``form`` (the trigger editor
and the step forms) or ``json`` (the trigger, schedule and actions boxes). A post without the
field is ``json``, as the form was before the editor existed. A button named ``editor`` changes
the draft and shows the page again; nothing is saved until the form is sent without one.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.forms.fields import InvalidJSONInput
from django.http import QueryDict

from core.parsing import json_loads
from dashboard.editor.steps import Step, steps_build, steps_change, steps_read
from dashboard.editor.trigger import TriggerForm, cron_summary, trigger_build, trigger_read
from dashboard.editor.variables import variables_by_step
from dashboard.forms import error_lines
from workflows.catalogue import action_catalogue_list
from workflows.models import AutomationExecution, AutomationWorkflow

FORM, JSON = "form", "json"
# What a JSON box holds when the page shows the forms, and the reverse.
_BOXES = ("trigger", "schedule", "actions")


@dataclass
class Draft:
    mode: str
    trigger: Any
    schedule: str
    actions: Any
    problems: dict[str, Any] = field(default_factory=dict)
    focus: str = ""


def draft_initial(workflow: AutomationWorkflow | None) -> Draft:
    if workflow is None:
        return Draft(FORM, {"type": "manual"}, "", [])
    return Draft(FORM, workflow.trigger, workflow.schedule, workflow.actions)


def draft_read(post: QueryDict) -> tuple[Draft, QueryDict]:
    """The draft the post describes, and the post as the workflow form reads it (in form mode,
    with the JSON boxes filled from the editor's fields)."""
    if post.get("editor_mode") != FORM:
        return Draft(JSON, post.get("trigger"), post.get("schedule", ""), post.get("actions")), post
    actions, action_problems = steps_read(post)
    trigger, schedule, trigger_problems = trigger_read(post)
    problems = {**trigger_problems, **({"actions": action_problems} if action_problems else {})}
    data = post.copy()
    data["trigger"] = json.dumps(trigger)
    data["schedule"] = schedule
    data["actions"] = json.dumps(actions)
    return Draft(FORM, trigger, schedule, actions, problems), data


def draft_change(draft: Draft, command: str) -> Draft | None:
    """The draft after the editor button ``command`` (``json`` and ``form`` switch the mode;
    the others are steps_change's); None when the JSON boxes do not parse, so the form can show
    why."""
    if command == JSON:
        return Draft(JSON, draft.trigger, draft.schedule, draft.actions)
    if command == FORM and draft.mode == JSON:
        try:
            trigger = json_loads(draft.trigger or "{}")
            actions = json_loads(draft.actions or "[]")
        except ValueError:
            return None
        if not isinstance(trigger, dict) or not isinstance(actions, list):
            return None
        return Draft(FORM, trigger, draft.schedule, actions)
    if draft.mode != FORM or not isinstance(draft.actions, list):
        return draft
    actions, focus = steps_change(draft.actions, command)
    return Draft(FORM, draft.trigger, draft.schedule, actions, focus=focus)


def draft_initial_data(draft: Draft, post: Mapping[str, Any]) -> dict[str, Any]:
    """The workflow form's initial values for showing ``draft`` again: what was posted, with
    the definition as the draft has it (the secret is never shown again)."""
    initial = {key: post.get(key) for key in post if key not in ("webhook_secret", *_BOXES)}
    initial["is_active"] = "is_active" in post
    initial.update(trigger=draft.trigger, schedule=draft.schedule, actions=draft.actions)
    for box in ("trigger", "actions"):
        if isinstance(initial[box], str):  # a JSON box's own text, shown as it was typed
            initial[box] = InvalidJSONInput(initial[box])
    return initial


def catalogue_groups(query: str = "") -> list[tuple[str, list[dict[str, Any]]]]:
    """The action types by group, keeping those whose type, title or description has
    ``query`` in it (any case)."""
    needle = query.strip().lower()
    groups: dict[str, list[dict[str, Any]]] = {}
    for entry in action_catalogue_list():
        text = f"{entry['type']} {entry['title']} {entry['description']}".lower()
        if needle in text:
            groups.setdefault(entry["group"], []).append(entry)
    return sorted(groups.items())


@dataclass
class Editor:
    mode: str
    steps: list[Step]
    trigger: TriggerForm
    errors: list[str]
    cron: dict[str, Any]
    focus: str
    catalogue: list[tuple[str, list[dict[str, Any]]]]


def editor_build(
    draft: Draft,
    *,
    errors: Mapping[str, Any],
    connections: Sequence[tuple[int, str, str]],
    executions: Sequence[AutomationExecution],
    now: datetime,
) -> Editor:
    """What the page shows in form mode; ``errors`` are the server's (DRF's shape)."""
    merged = {**errors, **draft.problems}
    action_errors = merged.get("actions", {})
    step_errors = action_errors if isinstance(action_errors, dict) else {}
    steps = steps_build(draft.actions, connections, step_errors)
    for step, names in zip(
        steps, variables_by_step([s.id for s in steps], executions), strict=True
    ):
        step.variables = names
    trigger = trigger_build(draft.trigger, draft.schedule, merged)
    timezone = draft.trigger.get("timezone", "") if isinstance(draft.trigger, dict) else ""
    return Editor(
        mode=draft.mode,
        steps=steps,
        trigger=trigger,
        errors=[] if isinstance(action_errors, dict) else error_lines(action_errors),
        cron=cron_summary(schedule=draft.schedule or "", timezone=str(timezone), now=now),
        focus=draft.focus,
        catalogue=catalogue_groups(),
    )
