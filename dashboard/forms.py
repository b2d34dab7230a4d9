"""The dashboard's forms. Each one checks its input with the same validation the REST API uses
(the workflow serializer and ``definition_validate``, the platform's connection checks), and puts
every problem beside the field it concerns."""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from django import forms
from django.utils import timezone
from rest_framework import serializers

from alerts.api import AlertSerializer
from alerts.channel_registry import CHANNELS
from alerts.models import (
    QUIET_MINUTES_MAX,
    AlertEvent,
    AlertType,
    AutomationAlert,
    QuietCounts,
    Severity,
)
from core.parsing import BoundedJSONDecoder, json_loads
from integrations.platforms.registry import PLATFORMS
from integrations.services import connection_validate
from workflows.api.serializers import WorkflowSerializer
from workflows.approvals import FIELD_MAX_LENGTH
from workflows.models import AutomationWorkflow, OverlapPolicy, WorkflowType
from workflows.services.jobs import MAX_CONCURRENCY_DEFAULT, MAX_CONCURRENCY_MAX

PATH_SEPARATOR = " › "
_THROTTLE_HELP = "Events within this many seconds are folded into one message; 0: none."
_SLOW_HELP = "For execution.slow; empty: the site's ALERT_SLOW_THRESHOLD_MS."


def error_lines(detail: Any, path: Sequence[str] = ()) -> list[str]:
    """DRF's nested error detail as readable lines: ``"action 2 › params › url: Enter a valid
    URL."``. A numeric key right under ``actions`` names the action by its 1-based position."""
    if isinstance(detail, dict):
        lines: list[str] = []
        for key, value in detail.items():
            lines += error_lines(value, [*path, str(key)])
        return lines
    if isinstance(detail, list):
        return [line for item in detail for line in error_lines(item, path)]
    parts = list(path[1:])  # the first part is the field the line is shown beside
    if path[:1] == ["actions"] and parts and parts[0].isdigit():
        parts[0] = f"action {int(parts[0]) + 1}"
    parts = [part for part in parts if part != "non_field_errors"]
    return [f"{PATH_SEPARATOR.join(parts)}: {detail}" if parts else str(detail)]


class PrettyJSONField(forms.JSONField):
    """A JSON textarea that shows its value indented, and the user's own text when it is not
    valid JSON."""

    widget = forms.Textarea

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(decoder=BoundedJSONDecoder, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


def errors_beside_fields(form: forms.Form, detail: Any) -> None:
    """Put a ValidationError's detail beside the fields it names (others above the form). A
    dotted key (``credentials.token``) goes beside its first part."""
    if not isinstance(detail, dict):
        detail = {"non_field_errors": detail}
    for key, value in detail.items():
        path = str(key).split(".")
        field = path[0] if path[0] in form.fields else None
        for line in error_lines(value, path):
            form.add_error(field, line)


class WorkflowForm(forms.Form):
    """Create or edit a workflow. ``validated_data`` is what the workflow services take."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(
        required=False, strip=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    workflow_type = forms.ChoiceField(choices=WorkflowType.choices, initial=WorkflowType.CUSTOM)
    trigger = PrettyJSONField(
        required=False,
        initial={"type": "manual"},
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text='An object: {"type": "manual"}, {"type": "event", "event": "…"}, '
        '{"type": "publish"}, {"type": "webhook"} or {"type": "schedule", "timezone": "UTC"}.',
    )
    schedule = forms.CharField(
        required=False,
        max_length=120,
        help_text="Five-field cron expression, for a schedule trigger (e.g. 0 * * * *).",
    )
    actions = PrettyJSONField(
        required=False,
        initial=list,
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}),
        help_text='A list: [{"id": "…", "type": "transform", "params": {…}}, …].',
    )
    overlap_policy = forms.ChoiceField(
        required=False,
        choices=[("", "Default (queue with a limit, else run alongside)"), *OverlapPolicy.choices],
        label="While a run is under way",
        help_text="What a new run does while another of this workflow is queued, running or "
        "waiting.",
    )
    max_concurrency = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=1000,
        help_text="With “Wait its turn”: at most this many at once (empty: 1). Empty otherwise.",
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    change_note = forms.CharField(
        required=False,
        max_length=500,
        help_text="Why the definition changes; kept with the revision this save records.",
    )
    webhook_secret = forms.CharField(
        required=False,
        strip=False,
        label="Webhook signing secret",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only; leave empty to keep the current one.",
    )

    def __init__(self, *args: Any, instance: AutomationWorkflow | None = None, **kwargs: Any):
        self.instance = instance
        self.validated_data: dict[str, Any] = {}
        # The serializer's errors as it gave them, for the editor to place beside its fields.
        self.definition_errors: dict[str, Any] = {}
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    name: getattr(instance, name)
                    for name in self.base_fields
                    if name not in ("webhook_secret", "change_note")
                },
            )
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        data = dict(cleaned)
        if data.get("actions") is None:
            data["actions"] = []
        if not data.get("webhook_secret"):
            data.pop("webhook_secret", None)
        if not data.get("overlap_policy"):
            data.pop("overlap_policy", None)
        serializer = WorkflowSerializer(instance=self.instance, data=data)
        if serializer.is_valid():
            self.validated_data = dict(serializer.validated_data)
        else:
            self.definition_errors = dict(serializer.errors)
            errors_beside_fields(self, serializer.errors)
        return cleaned


class SchedulePauseForm(forms.Form):
    """Pause a schedule until a date and time; validate it with the workflow's time zone active
    (``timezone.override``), so the time typed is read in that zone."""

    prefix = "pause"

    paused_until = forms.DateTimeField(
        label="Pause until",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="No slot before this runs, and none is caught up afterwards.",
    )

    def clean_paused_until(self) -> datetime:
        value: datetime = self.cleaned_data["paused_until"]
        if value <= timezone.now():
            raise forms.ValidationError("Must be in the future.")
        return value


class BackfillForm(forms.Form):
    """Run a schedule's past slots over a date range; validated with the workflow's time zone
    active, as SchedulePauseForm, so the times typed are read in that zone."""

    prefix = "backfill"

    start = forms.DateTimeField(
        label="From",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    end = forms.DateTimeField(
        label="To",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Both included; every slot between that has no run yet runs once, oldest first.",
    )
    max_concurrency = forms.IntegerField(
        label="At most at once",
        min_value=1,
        max_value=MAX_CONCURRENCY_MAX,
        initial=MAX_CONCURRENCY_DEFAULT,
        help_text="Backfilled runs wait behind live work; live schedules stay on time.",
    )


class PayloadForm(forms.Form):
    payload = PrettyJSONField(
        required=False,
        initial=dict,
        label="Trigger payload",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="A JSON object; workflows see it as {{ trigger }}.",
    )

    def clean_payload(self) -> dict[str, Any]:
        payload = self.cleaned_data.get("payload")
        if payload is None:
            return {}
        if not isinstance(payload, dict):
            raise forms.ValidationError("The trigger payload must be a JSON object.")
        return payload


class DryRunForm(PayloadForm):
    """The sample payload of a dry run ("Test with payload"). Its own prefix keeps its field apart
    from the run form's on the workflow's page."""

    prefix = "test"

    payload = PrettyJSONField(
        required=False,
        initial=dict,
        label="Sample payload",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="A JSON object, used as {{ trigger }}. Nothing is sent and nothing is saved.",
    )


class RunAgainForm(PayloadForm):
    """An execution's trigger payload, edited, for a new manual run of the same workflow."""

    prefix = "again"


class DecisionForm(forms.Form):
    """The comment that goes with approving or rejecting a waiting execution, and the approval
    step's declared fields (``fields``: their current values), editable when approving."""

    FIELD_PREFIX = "field-"

    comment = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional; kept with the decision and shown on the execution.",
    )

    SEEN_PREFIX = "seen-"

    def __init__(self, *args: Any, fields: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, value in (fields or {}).items():
            self.fields[f"{self.FIELD_PREFIX}{name}"] = forms.CharField(
                label=name.replace("_", " ").capitalize(),
                initial=value,
                max_length=FIELD_MAX_LENGTH,
                required=False,
                strip=False,
                widget=forms.Textarea(attrs={"rows": 3}),
            )
            # The value the page showed: a field left as it was is no edit, so a page opened
            # before another approver's edit does not undo it.
            self.fields[f"{self.SEEN_PREFIX}{name}"] = forms.CharField(
                initial=value, required=False, strip=False, widget=forms.HiddenInput
            )

    def edits(self) -> dict[str, str]:
        """The declared fields the approver changed, by name: sent, and not as the page
        showed them."""
        edits = {}
        for key, value in self.cleaned_data.items():
            if not key.startswith(self.FIELD_PREFIX) or key not in self.data:
                continue
            name = key.removeprefix(self.FIELD_PREFIX)
            if value != self.cleaned_data.get(f"{self.SEEN_PREFIX}{name}"):
                edits[name] = value
        return edits


class OrchestrationRunForm(forms.Form):
    input = PrettyJSONField(
        required=False,
        initial=dict,
        label="Run input",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="Any JSON value; calls see it as {{ input }}.",
    )

    def clean_input(self) -> Any:
        value = self.cleaned_data.get("input")
        return {} if value is None else value


def _json_object(raw: str) -> dict[str, Any]:
    try:
        value = json_loads(raw)
    except ValueError:
        raise forms.ValidationError("Must be a JSON object.") from None
    if not isinstance(value, dict):
        raise forms.ValidationError("Must be a JSON object.")
    return value


class ConnectionForm(forms.Form):
    """A new connection. The secret fields are password inputs that are never filled back in, so a
    page showing the form with errors does not show the secret either."""

    name = forms.CharField(max_length=200)
    platform = forms.ChoiceField(choices=[(name, name) for name in PLATFORMS])
    connection_type = forms.CharField(max_length=64, required=False)
    credentials = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text='A JSON object, e.g. {"token": "…"} or {"bot_token": "…"}. Write-only.',
    )
    webhook_url = forms.CharField(
        required=False,
        max_length=2000,
        label="Webhook URL",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="For slack, webhook, n8n and zapier. Write-only.",
    )
    config = PrettyJSONField(
        required=False,
        initial=dict,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text='Not secret: e.g. {"chat_id": "…"}, {"repo": "owner/name"}, {"host": "…"}.',
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def clean_credentials(self) -> dict[str, Any]:
        raw = self.cleaned_data.get("credentials") or ""
        return _json_object(raw) if raw else {}

    def clean_config(self) -> Any:
        value = self.cleaned_data.get("config")
        return {} if value is None else value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        try:
            connection_validate(
                platform=cleaned["platform"],
                credentials=cleaned["credentials"],
                webhook_url=cleaned.get("webhook_url", ""),
                config=cleaned["config"],
            )
        except serializers.ValidationError as exc:
            errors_beside_fields(self, exc.detail)
        return cleaned


class CompareForm(forms.Form):
    """Which two versions of an article to compare, and how to show the diff."""

    MODES = [("split", "Side by side"), ("unified", "Unified")]

    from_version = forms.IntegerField(min_value=1, label="From version")
    to_version = forms.IntegerField(min_value=1, label="To version")
    mode = forms.ChoiceField(choices=MODES, initial="split", required=False, label="Show")

    def clean_mode(self) -> str:
        return self.cleaned_data.get("mode") or "split"


class RevisionCompareForm(forms.Form):
    """Which two revisions of a workflow to compare, and how to show the diff."""

    from_revision = forms.IntegerField(min_value=1, label="From revision")
    to_revision = forms.IntegerField(min_value=1, label="To revision")
    mode = forms.ChoiceField(
        choices=CompareForm.MODES, initial="split", required=False, label="Show"
    )

    def clean_mode(self) -> str:
        return self.cleaned_data.get("mode") or "split"


class RestoreForm(forms.Form):
    """The confirmation of a restore, with the note the new revision records."""

    change_note = forms.CharField(
        required=False,
        max_length=500,
        help_text="Kept with the revision the restore records. Empty: “Restored revision N.”",
    )

    def errors_add(self, detail: Any) -> None:
        """Show why the service refused the restore (a definition no longer valid)."""
        errors_beside_fields(self, detail)


class AlertForm(forms.Form):
    """Create or edit an alert rule, checked by the API's serializer (the channel's own rules
    for connection and recipients included). ``validated_data`` is what the alert services
    take."""

    name = forms.CharField(max_length=200)
    workflow = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, help_text="Empty: every workflow."
    )
    alert_type = forms.ChoiceField(choices=AlertType.choices, initial=AlertType.FAILURE)
    events = forms.MultipleChoiceField(
        choices=AlertEvent.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: the usual events of the alert type.",
    )
    channel = forms.ChoiceField(choices=[(name, name) for name in CHANNELS])
    connection = forms.TypedChoiceField(
        coerce=int,
        required=False,
        empty_value=None,
        help_text="For slack, telegram, webhook, email and apprise: where the message goes.",
    )
    recipients = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One a line: email addresses (email) or usernames (in-app; none: all staff).",
    )
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.INFO)
    throttle_s = forms.IntegerField(
        min_value=0, initial=0, label="Throttle (seconds)", help_text=_THROTTLE_HELP
    )
    slow_threshold_ms = forms.IntegerField(
        required=False, min_value=1, label="Slow above (ms)", help_text=_SLOW_HELP
    )
    quiet_minutes = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=QUIET_MINUTES_MAX,
        label="Did not happen after (minutes)",
        help_text="For execution.missing: fire when the workflow has been silent this long.",
    )
    quiet_counts = forms.ChoiceField(
        choices=QuietCounts.choices,
        required=False,
        initial=QuietCounts.SUCCESS,
        label="Silent means no",
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(
        self,
        *args: Any,
        instance: AutomationAlert | None = None,
        workflows: Sequence[tuple[int, str]] = (),
        connections: Sequence[tuple[int, str, str]] = (),
        **kwargs: Any,
    ) -> None:
        self.instance = instance
        self.validated_data: dict[str, Any] = {}
        if instance is not None:
            initial = {name: getattr(instance, name) for name in self.base_fields}
            initial.update(
                workflow=instance.workflow_id,
                connection=instance.connection_id,
                recipients="\n".join(instance.recipients),
            )
            kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["workflow"]).choices = [
            ("", "All workflows"),
            *workflows,
        ]
        cast(forms.ChoiceField, self.fields["connection"]).choices = [
            ("", "None"),
            *((pk, f"{name} ({platform})") for pk, name, platform in connections),
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        data = {
            **cleaned,
            "recipients": [
                line.strip() for line in cleaned["recipients"].splitlines() if line.strip()
            ],
            "quiet_counts": cleaned.get("quiet_counts") or QuietCounts.SUCCESS,
        }
        serializer = AlertSerializer(instance=self.instance, data=data)
        if serializer.is_valid():
            self.validated_data = dict(serializer.validated_data)
        else:
            errors_beside_fields(self, serializer.errors)
        return cleaned


class WorkflowTestForm(forms.Form):
    """A workflow test case as JSON: ``name``, ``payload``, ``mocks``, ``expect``, checked by the
    API's serializer."""

    case = PrettyJSONField(
        label="Test case",
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
        help_text='{"name", "payload", "mocks": [{"url", "method", "status", "body"}], '
        '"expect": [{"path", "equals" | "contains" | "matches"}]}',
    )

    def clean_case(self) -> dict[str, Any]:
        case = self.cleaned_data["case"]
        if not isinstance(case, dict):
            raise forms.ValidationError("A test case is a JSON object.")
        return dict(case)
