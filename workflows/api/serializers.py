"""Input and output shapes of the workflows and executions endpoints."""

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.site import absolute_url
from core.strict import StrictFieldsMixin, StrictSerializer, text_field
from workflows.api.audit import ActorSerializer
from workflows.catalogue import ACTION_COMPONENT
from workflows.definition import MAX_ACTIONS, definition_validate
from workflows.models import (
    AutomationExecution,
    AutomationExecutionStep,
    AutomationWorkflow,
    OverlapPolicy,
    TriggerType,
    WorkflowType,
)
from workflows.selectors import success_rate
from workflows.services.overlap import overlap_settings


@extend_schema_field(
    {
        "type": "array",
        "maxItems": MAX_ACTIONS,
        "items": {"$ref": f"#/components/schemas/{ACTION_COMPONENT}"},
        "description": "The steps, in order; docs/actions.md describes each action type.",
    }
)
class ActionsField(serializers.JSONField):
    """The actions list, checked with the rest of the definition (definition_validate)."""


class WorkflowSerializer(StrictFieldsMixin, serializers.ModelSerializer[AutomationWorkflow]):
    trigger = serializers.JSONField(
        required=False,
        help_text="How the workflow starts: {type: manual|publish|schedule|event|webhook, …}. A "
        "schedule takes the cron in `schedule` and an optional `timezone`, or `interval_s` "
        "with an optional `start_at` (ISO 8601 with a UTC offset; slots are start_at + k × "
        "interval_s; when absent, the moment the trigger is saved, stored here).",
    )
    actions = ActionsField(required=False)
    schedule = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=120
    )
    workflow_type = serializers.ChoiceField(choices=WorkflowType.choices, required=False)
    max_concurrency = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=1000,
        help_text="At most this many runs at once, the rest waiting their turn; only with "
        "overlap_policy queue (given without a policy, it sets queue).",
    )
    overlap_policy = serializers.ChoiceField(
        choices=OverlapPolicy.choices,
        required=False,
        help_text="What a new run does while another is under way (queued, running or "
        "waiting): allow (run alongside), queue (wait its turn: max_concurrency at once, 1 when "
        "null), skip (start nothing: 409 to the caller), cancel_running (cancel those under "
        "way), cancel_new (record the new run cancelled). Default allow, or queue when "
        "max_concurrency is given.",
    )
    schedule_paused_until = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="A schedule trigger starts nothing for slots before this time, and does not "
        "catch them up afterwards; null: not paused.",
    )
    webhook_secret = serializers.CharField(
        write_only=True,
        required=False,
        min_length=settings.WEBHOOK_SECRET_MIN_CHARS,
        max_length=256,
        trim_whitespace=False,
        help_text="Signing secret for the webhook trigger (write-only; a new one keeps the "
        "previous valid for 24 h).",
    )
    success_rate = serializers.SerializerMethodField()
    webhook_url = serializers.SerializerMethodField()
    has_webhook_secret = serializers.SerializerMethodField()
    change_note = text_field(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="Why the definition changed; kept with the revision this write records.",
    )

    class Meta:
        model = AutomationWorkflow
        fields = [
            "id",
            "name",
            "description",
            "workflow_type",
            "trigger",
            "actions",
            "schedule",
            "is_active",
            "max_concurrency",
            "overlap_policy",
            "schedule_paused_until",
            "publish_requires_tests",
            "webhook_url",
            "webhook_secret",
            "has_webhook_secret",
            "change_note",
            "version",
            "run_count",
            "success_count",
            "failure_count",
            "success_rate",
            "avg_execution_time_ms",
            "last_run_at",
            "last_status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "version",
            "run_count",
            "success_count",
            "failure_count",
            "avg_execution_time_ms",
            "last_run_at",
            "last_status",
            "created_at",
            "updated_at",
        ]

    def to_representation(self, instance: AutomationWorkflow) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["schedule"] = data["schedule"] or None
        return data

    def get_webhook_url(self, workflow: AutomationWorkflow) -> str | None:
        if workflow.trigger_type != TriggerType.WEBHOOK or not workflow.webhook_token:
            return None
        path = f"/api/workflow-orchestration/hooks/{workflow.webhook_token}"
        return absolute_url(path, self.context.get("request"))

    def get_has_webhook_secret(self, workflow: AutomationWorkflow) -> bool:
        return bool(workflow.webhook_secret)

    def get_success_rate(self, workflow: AutomationWorkflow) -> float | None:
        return success_rate(workflow.success_count, workflow.failure_count)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = self.instance
        trigger = attrs.get("trigger", instance.trigger if instance else {"type": "manual"})
        actions = attrs.get("actions", instance.actions if instance else [])
        schedule = attrs.get("schedule", instance.schedule if instance else None)
        has_secret = bool(attrs.get("webhook_secret") or (instance and instance.webhook_secret))
        definition_validate(
            trigger=trigger, actions=actions, schedule=schedule, has_webhook_secret=has_secret
        )
        attrs.setdefault("trigger", trigger)
        attrs.setdefault("actions", actions)
        if "schedule" in attrs:
            attrs["schedule"] = attrs["schedule"] or ""
        return overlap_settings(data=attrs, current=instance)


class AttemptSerializer(serializers.Serializer):
    """One attempt of a step, as kept in its history."""

    attempt = serializers.IntegerField()
    status = serializers.CharField(help_text="completed, failed, waiting or skipped")
    started_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField()
    execution_time_ms = serializers.IntegerField(help_text="What this attempt took.")
    error_message = serializers.CharField(allow_blank=True)
    input = serializers.JSONField(
        required=False, help_text="What an attempt that did not complete was run with."
    )


class StepSerializer(serializers.ModelSerializer[AutomationExecutionStep]):
    attempt_history = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = AutomationExecutionStep
        fields = [
            "step_index",
            "step_id",
            "step_name",
            "step_type",
            "status",
            "input",
            "output",
            "error_message",
            "attempts",
            "attempt_history",
            "started_at",
            "completed_at",
            "execution_time_ms",
            "wall_time_ms",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "execution_time_ms": {"help_text": "Active time: every attempt's work, summed."},
            "wall_time_ms": {"help_text": "From the first attempt's start to the finish."},
        }


class ExecutionSerializer(serializers.ModelSerializer[AutomationExecution]):
    workflow_name = serializers.CharField(source="workflow.name", read_only=True)
    triggered_by = serializers.SerializerMethodField(
        help_text="Who or what started it; null for runs from before it was recorded."
    )

    @extend_schema_field(ActorSerializer(allow_null=True))
    def get_triggered_by(self, execution: AutomationExecution) -> dict[str, Any] | None:
        return execution.triggered_by or None

    class Meta:
        model = AutomationExecution
        fields = [
            "id",
            "workflow",
            "workflow_name",
            "status",
            "trigger_type",
            "trigger_payload",
            "triggered_by",
            "workflow_version",
            "created_at",
            "started_at",
            "completed_at",
            "execution_time_ms",
            "wall_time_ms",
            "steps_completed",
            "steps_total",
            "error_message",
            "attempt",
            "cancel_requested",
            "replay_of",
            "replay_from_step",
            "job",
            "parent_execution",
            "parent_step_id",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "replay_of": {"help_text": "The execution this one replays; null if not a replay."},
            "replay_from_step": {
                "help_text": 'The step a replay started from; "" when from the start.'
            },
            "job": {"help_text": "The bulk replay or backfill job that started it."},
            "parent_execution": {
                "help_text": "The execution whose run_workflow step started it; null if none."
            },
            "parent_step_id": {"help_text": 'That step\'s id; "" if none.'},
            "execution_time_ms": {
                "help_text": "Active time: what the steps took, every attempt summed; queueing, "
                "backoff and waits are not in it."
            },
            "wall_time_ms": {"help_text": "From created to finished, everything included."},
        }


class ArticleVersionPinSerializer(serializers.Serializer):
    article_id = serializers.IntegerField()
    version_number = serializers.IntegerField()


class ExecutionDetailSerializer(ExecutionSerializer):
    steps = StepSerializer(many=True, read_only=True)
    revision = serializers.SerializerMethodField(
        help_text="The number of the workflow revision the execution was created with."
    )
    article_version = serializers.SerializerMethodField(
        help_text="The article and content version the run concerns, as it started."
    )
    replays = serializers.SerializerMethodField(
        help_text="The executions that replay this one, oldest first."
    )
    children = serializers.SerializerMethodField(
        help_text="The executions its run_workflow steps started, oldest first."
    )

    class Meta(ExecutionSerializer.Meta):
        fields = [
            *ExecutionSerializer.Meta.fields,
            "revision",
            "article_version",
            "replays",
            "children",
            "context",
            "steps",
        ]
        read_only_fields = fields

    def get_revision(self, execution: AutomationExecution) -> int | None:
        revision = execution.revision if execution.revision_id else None
        return revision.number if revision is not None else None

    def get_replays(self, execution: AutomationExecution) -> list[int]:
        return list(execution.replays.order_by("pk").values_list("pk", flat=True))

    def get_children(self, execution: AutomationExecution) -> list[int]:
        return list(execution.children.order_by("pk").values_list("pk", flat=True))

    @extend_schema_field(ArticleVersionPinSerializer(allow_null=True))
    def get_article_version(self, execution: AutomationExecution) -> dict[str, Any] | None:
        pin = (execution.context or {}).get("article_version")
        return pin if isinstance(pin, dict) else None


class ExecuteAcceptedSerializer(serializers.Serializer):
    execution_id = serializers.IntegerField()
    status = serializers.CharField()


class DecisionSerializer(StrictSerializer):
    comment = text_field(max_length=2000, required=False, default="", allow_blank=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        # Declared here: a class attribute named ``fields`` would hide Serializer.fields.
        declared = super().get_fields()
        declared["fields"] = serializers.DictField(
            child=text_field(max_length=5000, allow_blank=True, trim_whitespace=False),
            required=False,
            allow_empty=True,
            help_text="When approving: new values for the approval step's declared fields.",
        )
        return declared


class DryRunStepSerializer(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField()
    would = serializers.ChoiceField(choices=["run", "skip", "fail"])
    reason = serializers.CharField(required=False)
    input = serializers.JSONField(required=False)
    output = serializers.JSONField(required=False)
    side_effects = serializers.BooleanField(required=False)
    problems = serializers.ListField(child=serializers.CharField(), required=False)


class DryRunSerializer(serializers.Serializer):
    workflow_id = serializers.IntegerField()
    version = serializers.IntegerField()
    steps = DryRunStepSerializer(many=True)
    would_fail = serializers.BooleanField()
