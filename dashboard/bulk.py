"""The form behind the executions list's bulk Retry / Cancel / Replay: the ticked rows, or every
row the list's filter matches (up to the bulk limit), and the action to take on them."""

from typing import Any

from django import forms
from django.http import QueryDict

from workflows.services.bulk import BULK_LIMIT
from workflows.services.replay import FROM_FAILED_STEP, FROM_START

BULK_ACTIONS = [("retry", "Retry"), ("cancel", "Cancel"), ("replay", "Replay")]
START_FROM = [
    (FROM_FAILED_STEP, "From each one's failed step (the steps before keep their outputs)"),
    (FROM_START, "From the start"),
]


class IdsField(forms.Field):
    """Execution ids posted as repeated values (checkboxes or hidden inputs), at most BULK_LIMIT."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        values = value if isinstance(value, list | tuple) else [value] if value else []
        if len(values) > BULK_LIMIT:
            raise forms.ValidationError(f"At most {BULK_LIMIT} executions per action.")
        try:
            return list(dict.fromkeys(int(item) for item in values))
        except (TypeError, ValueError):
            raise forms.ValidationError("Execution ids must be whole numbers.") from None


class BulkForm(forms.Form):
    action = forms.ChoiceField(choices=BULK_ACTIONS)
    ids = IdsField(required=False)
    everything = forms.BooleanField(required=False)
    filter = forms.CharField(required=False, max_length=2000)
    # Replay only: where each replay starts.
    start_from = forms.ChoiceField(choices=START_FROM, required=False)

    def clean_filter(self) -> str:
        """The list's query string without its page, re-encoded (it goes into a redirect)."""
        query = QueryDict(self.cleaned_data.get("filter") or "", mutable=True)
        query.pop("page", None)
        return query.urlencode()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("everything") and not cleaned.get("ids"):
            raise forms.ValidationError(
                "Select at least one execution, or every execution the filter matches."
            )
        return cleaned
