"""A workflow's test suite: saved cases, each a trigger payload, canned answers for the HTTP
requests its steps make, and what the run must come to (workflows/services/suites.py)."""

from django.db import models

from workflows.models.workflows import AutomationWorkflow


class WorkflowTest(models.Model):
    workflow = models.ForeignKey(AutomationWorkflow, on_delete=models.CASCADE, related_name="tests")
    name = models.CharField(max_length=200)
    # What the run sees as {{ trigger }}.
    payload = models.JSONField(default=dict, blank=True)
    # [{"url": prefix, "method", "status", "body", "headers"}]: the answers to its requests.
    mocks = models.JSONField(default=list, blank=True)
    # [{"path": JMESPath over the result, "equals" | "contains" | "matches": value}].
    expect = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workflow_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "name"], name="workflow_test_name_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.workflow_id})"
