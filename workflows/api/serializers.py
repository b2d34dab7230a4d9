"""Input and output shapes of the workflows and executions endpoints."""

from typing import Any

from django.conf import settings
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


class ExecutionDetailSerializer(ExecutionSerializer):
    steps = StepSerializer(many=True, read_only=True)

    class Meta(ExecutionSerializer.Meta):
        fields = [*ExecutionSerializer.Meta.fields, "context", "steps"]
        read_only_fields = fields


class ExecuteAcceptedSerializer(serializers.Serializer):
    execution_id = serializers.IntegerField()
    status = serializers.CharField()


class WorkflowStatsSerializer(serializers.Serializer):
    workflow_id = serializers.IntegerField()
    run_count = serializers.IntegerField()
    success_count = serializers.IntegerField()
    failure_count = serializers.IntegerField()
    success_rate = serializers.FloatField(allow_null=True)
    avg_execution_time_ms = serializers.FloatField()
    last_run_at = serializers.DateTimeField(allow_null=True)
    last_status = serializers.CharField()
    executions_by_status = serializers.DictField(child=serializers.IntegerField())
