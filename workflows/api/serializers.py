"""Input and output shapes of the workflows and executions endpoints."""

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from workflows.definition import definition_validate
from workflows.models import (
    AutomationExecution,
    AutomationExecutionStep,
    AutomationWorkflow,
    TriggerType,
    WorkflowType,
)
from workflows.selectors import success_rate


class WorkflowSerializer(serializers.ModelSerializer[AutomationWorkflow]):
    trigger = serializers.JSONField(required=False)
    actions = serializers.JSONField(required=False)
    schedule = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=120
    )
    workflow_type = serializers.ChoiceField(choices=WorkflowType.choices, required=False)
    max_concurrency = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=1000
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
    change_note = serializers.CharField(
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
        return f"{settings.SITE_URL}/api/workflow-orchestration/hooks/{workflow.webhook_token}"

    def get_has_webhook_secret(self, workflow: AutomationWorkflow) -> bool:
        return bool(workflow.webhook_secret)

    def get_success_rate(self, workflow: AutomationWorkflow) -> float | None:
        return success_rate(workflow.success_count, workflow.failure_count)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = self.instance
        trigger = attrs.get("trigger", instance.trigger if instance else {"type": "manual"})
        actions = attrs.get("actions", instance.actions if instance else [])
        schedule = attrs.get("schedule", instance.schedule if instance else None)
        definition_validate(trigger=trigger, actions=actions, schedule=schedule)
        attrs.setdefault("trigger", trigger)
        attrs.setdefault("actions", actions)
        if "schedule" in attrs:
            attrs["schedule"] = attrs["schedule"] or ""
        return attrs


class StepSerializer(serializers.ModelSerializer[AutomationExecutionStep]):
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
            "started_at",
            "completed_at",
            "execution_time_ms",
        ]
        read_only_fields = fields


class ExecutionSerializer(serializers.ModelSerializer[AutomationExecution]):
    workflow_name = serializers.CharField(source="workflow.name", read_only=True)

    class Meta:
        model = AutomationExecution
        fields = [
            "id",
            "workflow",
            "workflow_name",
            "status",
            "trigger_type",
            "trigger_payload",
            "workflow_version",
            "created_at",
            "started_at",
            "completed_at",
            "execution_time_ms",
            "steps_completed",
            "steps_total",
            "error_message",
            "attempt",
            "cancel_requested",
        ]
        read_only_fields = fields


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

    class Meta(ExecutionSerializer.Meta):
        fields = [
            *ExecutionSerializer.Meta.fields,
            "revision",
            "article_version",
            "context",
            "steps",
        ]
        read_only_fields = fields

    def get_revision(self, execution: AutomationExecution) -> int | None:
        revision = execution.revision if execution.revision_id else None
        return revision.number if revision is not None else None

    @extend_schema_field(ArticleVersionPinSerializer(allow_null=True))
    def get_article_version(self, execution: AutomationExecution) -> dict[str, Any] | None:
        pin = (execution.context or {}).get("article_version")
        return pin if isinstance(pin, dict) else None


class ExecuteAcceptedSerializer(serializers.Serializer):
    execution_id = serializers.IntegerField()
    status = serializers.CharField()


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=2000, required=False, default="", allow_blank=True)


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
