"""The filters of the workflow, execution and audit lists: query parameters the API and the
dashboard's lists read the same way."""

import django_filters

from workflows.models import (
    AuditEntry,
    AutomationExecution,
    AutomationWorkflow,
    ExecutionStatus,
    TriggerType,
)


class WorkflowFilter(django_filters.FilterSet):
    trigger_type = django_filters.ChoiceFilter(choices=TriggerType.choices)

    class Meta:
        model = AutomationWorkflow
        fields = ["is_active", "workflow_type", "trigger_type"]


class ExecutionFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ExecutionStatus.choices)
    trigger_type = django_filters.ChoiceFilter(choices=TriggerType.choices)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    error_contains = django_filters.CharFilter(
        field_name="error_message",
        lookup_expr="icontains",
        max_length=200,
        help_text="Executions whose error message contains this text (any case).",
    )

    class Meta:
        model = AutomationExecution
        fields = ["workflow", "status", "trigger_type"]


class AuditFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor_name", help_text="The actor's name.")
    action = django_filters.CharFilter()
    object_type = django_filters.CharFilter()
    object_id = django_filters.CharFilter()
    after = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    before = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditEntry
        fields = ["actor", "action", "object_type", "object_id"]
