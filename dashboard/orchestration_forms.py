"""The orchestration form: name, type and the calls as repeated rows (a Django formset), checked
by the API's serializer so the errors are the API's, each put beside the call and field it
concerns; and the dependency preview, the calls in the stages they can run in."""

from dataclasses import dataclass
from typing import Any

from django import forms

from core.parsing import BoundedJSONDecoder
from dashboard.forms import PrettyJSONField, error_lines, errors_beside_fields
from orchestration.api import OrchestrationSerializer
from orchestration.models import APIOrchestration
from orchestration.patterns import PATTERN_CHOICES
from orchestration.validation import MAX_CALLS
from workflows.actions.api_call import METHODS

# Call keys the rows do not show (query, connection, timeout_s) ride along unchanged.
SHOWN = ("id", "method", "url", "headers", "body", "extract", "condition")


def _pairs(text: str, separator: str, example: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for line in filter(None, (line.strip() for line in text.splitlines())):
        name, found, value = line.partition(separator)
        if not found or not name.strip():
            raise forms.ValidationError(f"Write each line as {example}.")
        pairs[name.strip()] = value.strip()
    return pairs


class OptionalJSONField(PrettyJSONField):
    """A JSON box that shows nothing (rather than ``null``) when there is no value."""

    def prepare_value(self, value: Any) -> Any:
        return "" if value is None else super().prepare_value(value)


class OrchestrationForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    type = forms.ChoiceField(choices=PATTERN_CHOICES, label="Pattern")
    is_active = forms.BooleanField(required=False, initial=True, label="Active")


class CallForm(forms.Form):
    id = forms.CharField(max_length=64, label="Call id", help_text="Letters, digits or _.")
    method = forms.ChoiceField(choices=[(method, method) for method in METHODS], initial="GET")
    url = forms.CharField(max_length=2000, label="URL", help_text="May use {{ input.x }}.")
    headers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One a line: Name: value",
    )
    body = OptionalJSONField(
        required=False,
        label="Body (JSON)",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
    )
    extract = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One a line: name = JMESPath expression (e.g. token = data.token)",
    )
    depends_on = forms.CharField(
        required=False, max_length=2000, label="Waits for", help_text="Call ids, comma-separated."
    )
    condition = forms.CharField(
        required=False, max_length=2000, help_text="Conditional pattern only."
    )
    rest = forms.JSONField(required=False, decoder=BoundedJSONDecoder, widget=forms.HiddenInput)

    def clean_rest(self) -> dict[str, Any]:
        rest = self.cleaned_data.get("rest")
        if rest is not None and not isinstance(rest, dict):
            raise forms.ValidationError("The call's other settings must be a JSON object.")
        return rest or {}

    def clean_headers(self) -> dict[str, str]:
        return _pairs(self.cleaned_data["headers"], ":", "Name: value")

    def clean_extract(self) -> dict[str, str]:
        return _pairs(self.cleaned_data["extract"], "=", "name = expression")

    def clean_depends_on(self) -> list[str]:
        return [part.strip() for part in self.cleaned_data["depends_on"].split(",") if part.strip()]

    def call(self) -> dict[str, Any]:
        """The call as the API takes it (only what is filled in)."""
        data = self.cleaned_data
        call = {**data["rest"], "id": data["id"], "method": data["method"]}
        call["url"] = data["url"]
        for key in ("headers", "extract", "condition"):
            if data.get(key):
                call[key] = data[key]
        if data.get("body") is not None:
            call["body"] = data["body"]
        return call


class BaseCallFormSet(forms.BaseFormSet):
    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        form.fields["DELETE"].label = "Remove this call"

    def live_forms(self) -> list[CallForm]:
        """The rows that are calls: neither ticked for removal nor left blank (once validated)."""
        return [
            form
            for form in self.forms
            if form.has_changed() and not getattr(form, "cleaned_data", {}).get("DELETE")
        ]


CallFormSet = forms.formset_factory(
    CallForm,
    formset=BaseCallFormSet,
    extra=0,
    min_num=1,
    max_num=MAX_CALLS,
    absolute_max=MAX_CALLS + 1,
    validate_max=True,
    can_delete=True,
)


def call_initial(orchestration: APIOrchestration | None) -> list[dict[str, Any]]:
    if orchestration is None:
        return [{"method": "GET"}]
    rows = []
    for call in orchestration.api_calls:
        rows.append(
            {
                **{key: call.get(key) for key in SHOWN},
                "headers": "\n".join(f"{k}: {v}" for k, v in (call.get("headers") or {}).items()),
                "extract": "\n".join(f"{k} = {v}" for k, v in (call.get("extract") or {}).items()),
                "depends_on": ", ".join(orchestration.dependencies.get(call.get("id"), [])),
                "rest": {key: value for key, value in call.items() if key not in SHOWN} or None,
            }
        )
    return rows


@dataclass
class Definition:
    """What the rows say: the calls in order with the row of each, and the dependencies."""

    rows: list[CallForm]
    api_calls: list[dict[str, Any]]
    dependencies: dict[str, list[str]]


def definition_from(calls: BaseCallFormSet) -> Definition:
    rows = [form for form in calls.live_forms() if form.is_valid()]
    dependencies = {
        form.cleaned_data["id"]: form.cleaned_data["depends_on"]
        for form in rows
        if form.cleaned_data["depends_on"]
    }
    return Definition(rows, [form.call() for form in rows], dependencies)


def _row_for(key: str, definition: Definition) -> CallForm | None:
    if key.startswith("#") and key[1:].isdigit() and int(key[1:]) < len(definition.rows):
        return definition.rows[int(key[1:])]
    return next((f for f in definition.rows if f.cleaned_data["id"] == key), None)


def _row_errors_add(row: CallForm, errors: Any, field: str | None = None) -> None:
    if not isinstance(errors, dict):
        errors = {field or "non_field_errors": errors}
    for key, value in errors.items():
        target = key if key in row.fields and key != "rest" else None
        for line in error_lines(value, [key] if target else ["", key]):
            row.add_error(target, line)


def definition_check(
    form: OrchestrationForm,
    calls: BaseCallFormSet,
    instance: APIOrchestration | None,
) -> dict[str, Any] | None:
    """The validated data for the orchestration services, or None with every error put beside
    its call and field (those of no call above the form). Both forms must be valid."""
    definition = definition_from(calls)
    data = {
        **form.cleaned_data,
        "api_calls": definition.api_calls,
        "dependencies": definition.dependencies,
        "retry_strategy": instance.retry_strategy if instance is not None else {},
    }
    serializer = OrchestrationSerializer(instance=instance, data=data)
    if serializer.is_valid():
        return dict(serializer.validated_data)
    errors = dict(serializer.errors)
    for part, field in (("api_calls", None), ("dependencies", "depends_on")):
        detail = errors.get(part)
        if isinstance(detail, dict):
            for key, value in errors.pop(part).items():
                row = _row_for(str(key), definition)
                if row is None:
                    errors.setdefault(part, []).extend(error_lines(value, [part, str(key)]))
                else:
                    _row_errors_add(row, value, field)
    errors_beside_fields(form, errors)
    return None
