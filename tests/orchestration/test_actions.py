"""The ``orchestrate`` action: an orchestration run as a workflow step."""

import pytest

from orchestration.models import OrchestrationRun
from tests.factories import OrchestrationFactory, WorkflowFactory
from tests.orchestration.conftest import Reply
from workflows.engine import execution_run
from workflows.services.executions import execution_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]

BASE = "/api/workflow-orchestration"


def run_workflow(actions, payload=None):
    workflow = WorkflowFactory(actions=actions)
    execution, _ = execution_create(workflow=workflow, trigger_type="manual", payload=payload or {})
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    return execution


def test_a_step_runs_the_orchestration_and_puts_its_result_in_the_context(stub):
    stub.route("/price", lambda request: Reply(200, {"sku": request.query["sku"], "price": 9}))
    orchestration = OrchestrationFactory(
        type="pipeline",
        api_calls=[{"id": "price", "url": stub.url("/price"), "query": {"sku": "{{ input.sku }}"}}],
    )
    execution = run_workflow(
        [
            {"id": "lookup", "type": "orchestrate",
             "params": {"orchestration": orchestration.pk, "input": {"sku": "{{ trigger.sku }}"}}},
            {"id": "use", "type": "transform",
             "params": {"values": {"price": "{{ steps.lookup.result.body.price }}"}}},
        ],
        payload={"sku": "A-1"},
    )  # fmt: skip
    assert execution.status == "completed", execution.error_message
    output = execution.context["steps"]["lookup"]
    run = OrchestrationRun.objects.get()
    assert output["run_id"] == run.pk
    assert output["status"] == "succeeded"
    assert output["calls"]["price"]["status"] == "succeeded"
    assert run.input == {"sku": "A-1"}
    assert execution.context["steps"]["use"] == {"price": 9}


def test_a_failed_run_fails_the_step_permanently_on_a_client_error(stub):
    stub.route("/x", Reply(404))
    orchestration = OrchestrationFactory(api_calls=[{"id": "x", "url": stub.url("/x")}])
    execution = run_workflow(
        [
            {
                "id": "orch",
                "type": "orchestrate",
                "params": {"orchestration": orchestration.pk},
                "retry": {"max_attempts": 3, "delay_s": 0},
            }
        ]
    )
    assert execution.status == "failed"
    step = execution.steps.get()
    assert step.status == "failed"
    assert step.attempts == 1
    assert "Call 'x' failed: HTTP 404" in step.error_message
    assert step.output["response"]["status"] == "failed"


def test_a_run_failed_by_a_server_error_leaves_the_step_to_retry(stub):
    stub.route("/x", Reply(503))
    orchestration = OrchestrationFactory(api_calls=[{"id": "x", "url": stub.url("/x")}])
    execution = run_workflow(
        [
            {
                "id": "orch",
                "type": "orchestrate",
                "params": {"orchestration": orchestration.pk},
                "retry": {"max_attempts": 2, "delay_s": 60},
            }
        ]
    )
    assert execution.status == "queued"
    assert execution.steps.get().status == "retrying"


def test_a_workflow_naming_a_missing_orchestration_is_refused_on_save(api):
    definition = {
        "name": "Uses a ghost",
        "actions": [{"id": "o", "type": "orchestrate", "params": {"orchestration": 999}}],
    }
    response = api.post(f"{BASE}/workflows", definition, format="json")
    assert response.status_code == 400
    assert response.json()["actions"]["0"]["params"]["orchestration"] == [
        "Orchestration 999 does not exist."
    ]
