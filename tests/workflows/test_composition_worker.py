"""Composition through the real path: a parent created over the API waits, on a worker, for the
child its run_workflow step started, and a workflow trigger starts a follower when a run fails."""

import pytest

from tests.conftest import wait_for
from workflows.models import AutomationExecution

pytestmark = pytest.mark.worker

BASE = "/api/workflow-orchestration"


def create(api, body) -> int:
    response = api.post(f"{BASE}/workflows", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def test_a_parent_waits_for_its_child_on_a_worker_and_a_failure_starts_its_follower(
    api, start_worker
):
    child = create(
        api,
        {
            "name": "Prepare the post",
            "actions": [
                {
                    "id": "title",
                    "type": "transform",
                    "params": {"values": {"t": "{{ trigger.title | upper }}"}},
                }
            ],
        },
    )
    parent = create(
        api,
        {
            "name": "Publish and share",
            "actions": [
                {
                    "id": "prepare",
                    "type": "run_workflow",
                    "params": {
                        "workflow": "Prepare the post",
                        "payload": {"title": "{{ trigger.title }}"},
                    },
                },
                {
                    "id": "check",
                    "type": "transform",
                    "params": {"values": {"n": "{{ steps.prepare.steps.title.t | length / 0 }}"}},
                },
            ],
        },
    )
    follower = create(
        api,
        {
            "name": "Tell the editor",
            "trigger": {"type": "workflow", "workflow": parent, "status": ["failed"]},
            "actions": [
                {
                    "id": "why",
                    "type": "transform",
                    "params": {"values": {"error": "{{ trigger.execution.error }}"}},
                }
            ],
        },
    )
    start_worker()
    response = api.post(f"{BASE}/workflows/{parent}/execute", {"title": "hello"}, format="json")
    assert response.status_code == 202, response.json()
    parent_id = response.json()["execution_id"]
    parent_run = AutomationExecution.objects.filter(pk=parent_id)
    wait_for(lambda: parent_run.get().status in ("completed", "failed"), timeout_s=60)
    done = parent_run.get()
    child_run = AutomationExecution.objects.get(parent_execution=done)
    assert (child_run.workflow_id, child_run.status) == (child, "completed")
    assert done.context["steps"]["prepare"]["steps"] == {"title": {"t": "HELLO"}}
    # The second step divides by zero: the parent fails, and its follower starts and runs.
    assert done.status == "failed"
    followers = AutomationExecution.objects.filter(workflow_id=follower)
    wait_for(lambda: followers.filter(status="completed").count() == 1, timeout_s=30)
    assert "division by zero" in followers.get().context["steps"]["why"]["error"]
