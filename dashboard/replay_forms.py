"""The replay page's form: where to start, which revision, a step to mark done, and whether to
make the origin's effects again. The same checks as the REST API (workflows/api/replay.py)."""

from typing import Any, cast

from django import forms

from dashboard.forms import PrettyJSONField, error_lines
from workflows.api.replay import ReplayRequestSerializer
from workflows.models import AutomationExecution
from workflows.services.replay import MARK_STATUSES


class ReplayForm(forms.Form):
    from_step = forms.ChoiceField(
        required=False,
        label="Start from",
        help_text="The steps before it keep this run's outputs; it and the steps after run.",
    )
    revision = forms.ChoiceField(
        choices=[
            ("original", "The revision this run used"),
            ("current", "The workflow as it is now"),
        ],
        initial="original",
        widget=forms.RadioSelect,
    )
    mark_step = forms.ChoiceField(
        required=False,
        label="Mark a step done instead of running it",
        help_text="For instance the failed step, when you fixed its effect by hand.",
    )
    mark_status = forms.ChoiceField(
        choices=[(status, status.capitalize()) for status in MARK_STATUSES],
        required=False,
        initial="completed",
        label="Marked as",
    )
    mark_output = PrettyJSONField(
        required=False,
        initial=dict,
        label="Its output",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text="What later steps read from the marked step (completed only).",
    )
    force_effects = forms.BooleanField(
        required=False,
        label="Send, post and commit again what this run already did",
    )

    def __init__(self, *args: Any, execution: AutomationExecution, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ids = [
            (action["id"], f"{index + 1}. {action.get('name') or action['id']}")
            for index, action in enumerate(execution.definition.get("actions", []))
        ]
        cast(forms.ChoiceField, self.fields["from_step"]).choices = [("", "The start"), *ids]
        cast(forms.ChoiceField, self.fields["mark_step"]).choices = [("", "None"), *ids]

    def request(self) -> dict[str, Any] | None:
        """The replay asked for, in the API's shape, checked by the API's serializer; None
        (with the errors beside the fields) when it does not pass."""
        data = self.cleaned_data
        mark = {}
        if data["mark_step"]:
            status = data["mark_status"] or "completed"
            mark[data["mark_step"]] = {"status": status, "output": data["mark_output"] or {}}
        asked = ReplayRequestSerializer(
            data={
                "from_step": data["from_step"] or None,
                "revision": data["revision"],
                "mark": mark,
                "force_effects": data["force_effects"],
            }
        )
        if asked.is_valid():
            return dict(asked.validated_data)
        for field, detail in asked.errors.items():
            self.add_error("mark_step" if field == "mark" else field, error_lines(detail))
        return None
