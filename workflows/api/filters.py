"""The filters of the workflow and execution lists: query parameters the API and the
dashboard's lists read the same way."""

import django_filters

from workflows.models import AutomationExecution, AutomationWorkflow, ExecutionStatus, TriggerType


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

    class Meta:
        model = AutomationExecution
        fields = ["workflow", "status", "trigger_type"]
