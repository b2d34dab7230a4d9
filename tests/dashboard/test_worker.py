"""End to end: a workflow run from the dashboard's form is executed by a real worker, and the
execution's live fragment reports the result; an approval decided on the page resumes the run on
the worker."""

import pytest

from tests.conftest import wait_for
from tests.dashboard.data import APPROVAL_ACTIONS
from tests.factories import WorkflowFactory
from workflows.models import AutomationExecution
from workflows.services.executions import execution_create

pytestmark = pytest.mark.worker


def test_a_run_started_from_the_dashboard_completes_on_a_worker(staff_client, start_worker):
    workflow = WorkflowFactory(
        actions=[
            {
                "id": "greet",
                "type": "transform",
                "params": {"values": {"greeting": "Hello {{ trigger.name }}"}},
            }
        ]
    )
    start_worker()
    staff_client.post(f"/dashboard/workflows/{workflow.pk}/run/", {"payload": '{"name": "Ada"}'})
    execution = AutomationExecution.objects.get()
    live = f"/dashboard/executions/{execution.pk}/live/"

    def finished_fragment() -> str | None:
        # The fragment stops asking to be polled once the execution has finished.
        fragment = staff_client.get(live).content.decode()
        return None if "hx-trigger" in fragment else fragment

    fragment = wait_for(finished_fragment, timeout_s=30)
    assert 'data-status="completed"' in fragment
    assert "Hello Ada" in fragment


def finished(staff_client, execution: AutomationExecution) -> str | None:
    """The live fragment once it no longer asks to be polled (the execution has finished)."""
    fragment = staff_client.get(f"/dashboard/executions/{execution.pk}/live/").content.decode()
    return None if "hx-trigger" in fragment else fragment


def test_an_approval_given_on_the_page_completes_the_run_on_a_worker(
    staff_client, staff_user, start_worker
):
    start_worker()
    execution, _ = execution_create(
        workflow=WorkflowFactory(actions=APPROVAL_ACTIONS), trigger_type="manual", payload={}
    )
    wait_for(lambda: AutomationExecution.objects.get(pk=execution.pk).status == "waiting")
    staff_client.post(f"/dashboard/executions/{execution.pk}/approve/", {"comment": "Go"})

    fragment = wait_for(lambda: finished(staff_client, execution), timeout_s=30)
    assert 'data-status="completed"' in fragment
    assert f"by <strong>{staff_user.username}</strong>" in fragment and "<q>Go</q>" in fragment
    execution.refresh_from_db()
    assert execution.context["steps"]["after"] == {"done": True}
