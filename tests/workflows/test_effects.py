"""The effect ledger: a redelivered side-effecting step does not repeat its effect."""

import pytest
from django.utils import timezone

from alerts.models import Notification
from tests.factories import WorkflowFactory
from workflows.engine import execution_run
from workflows.models import AutomationExecution, StepEffect
from workflows.services.executions import execution_create

pytestmark = pytest.mark.django_db


def redeliver(execution: AutomationExecution) -> None:
    """As if the worker died after the step's effect but before its result was saved."""
    execution.steps.update(status="running")
    AutomationExecution.objects.filter(pk=execution.pk).update(
        status="running", lease_expires_at=timezone.now(), steps_completed=0, completed_at=None
    )


def test_a_redelivered_notify_step_sends_its_message_once(staff_user):
    actions = [
        {
            "id": "tell",
            "type": "notify",
            "params": {"channel": "in_app", "recipients": ["staff"], "message": "Hi"},
        }
    ]
    execution, _ = execution_create(
        workflow=WorkflowFactory(actions=actions), trigger_type="manual"
    )
    execution_run(execution_id=execution.pk, worker="first")
    redeliver(execution)
    execution_run(execution_id=execution.pk, worker="second")
    execution.refresh_from_db()
    assert (execution.status, execution.attempt) == ("completed", 2)
    assert Notification.objects.filter(user=staff_user).count() == 1
    assert StepEffect.objects.get().key == f"{execution.pk}-tell"
