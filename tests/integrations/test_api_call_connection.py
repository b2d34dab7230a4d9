"""``api_call`` with a ``connection``: auth headers from the encrypted connection at run time,
never in params, step records or error messages."""

import base64
import json

import pytest
from werkzeug import Request, Response

from tests.factories import ConnectionFactory, WorkflowFactory
from workflows.engine import execution_run
from workflows.models import AutomationExecution, AutomationWorkflow
from workflows.services.executions import execution_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]

TOKEN = "canary-9e4f20c7-bearer"
BASE = "/api/workflow-orchestration"


def echo_auth(request: Request) -> Response:
    """A careless API that quotes the credential it got, in a 200 or (on /fail) a 500."""
    body = json.dumps({"you_sent": request.headers.get("Authorization")})
    status = 500 if request.path.endswith("/fail") else 200
    return Response(body, status=status, content_type="application/json")


def run_call(httpserver, connection, path="/echo") -> AutomationExecution:
    httpserver.expect_request(path).respond_with_handler(echo_auth)
    params = {"url": httpserver.url_for(path), "connection": connection.pk}
    workflow = WorkflowFactory(actions=[{"id": "call", "type": "api_call", "params": params}])
    execution, _ = execution_create(workflow=workflow, trigger_type="manual", payload={})
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    return execution


def step_record(execution: AutomationExecution) -> str:
    step = execution.steps.get()
    return json.dumps([step.input, step.output, step.error_message, execution.error_message,
                       execution.context])  # fmt: skip


def test_a_bearer_connection_sends_the_header_and_the_step_input_holds_no_secret(httpserver):
    connection = ConnectionFactory(platform="webhook", credentials={"token": TOKEN})
    execution = run_call(httpserver, connection)
    assert execution.status == "completed", execution.error_message
    request, _ = httpserver.log[0]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    step = execution.steps.get()
    assert step.input["connection"] == connection.pk
    assert step.output["body"] == {"you_sent": "[redacted]"}
    assert TOKEN not in step_record(execution)


def test_a_basic_auth_connection_sends_basic_credentials(httpserver):
    connection = ConnectionFactory(credentials={"username": "svc", "password": "pw-71c3"})
    execution = run_call(httpserver, connection)
    request, _ = httpserver.log[0]
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"svc:pw-71c3").decode()
    assert "pw-71c3" not in step_record(execution)
    assert base64.b64encode(b"svc:pw-71c3").decode() not in step_record(execution)


def test_a_custom_header_connection_sends_the_token_in_that_header(httpserver):
    connection = ConnectionFactory(
        credentials={"token": TOKEN}, config={"auth_header": "X-API-Key"}
    )
    run_call(httpserver, connection)
    request, _ = httpserver.log[0]
    assert request.headers["X-API-Key"] == TOKEN
    assert "Authorization" not in request.headers


def test_an_error_quoting_the_secret_is_redacted(httpserver):
    connection = ConnectionFactory(credentials={"token": TOKEN})
    execution = run_call(httpserver, connection, path="/fail")
    assert execution.status == "failed"
    step = execution.steps.get()
    assert step.error_message.startswith("HTTP 500 from GET")
    assert step.output["response"]["error_detail"].endswith('{"you_sent": "[redacted]"}')
    assert TOKEN not in step_record(execution)


def test_a_connection_without_auth_material_fails_the_step_clearly(httpserver):
    connection = ConnectionFactory(credentials={})
    execution = run_call(httpserver, connection)
    assert execution.status == "failed"
    assert "has no credentials for HTTP auth" in execution.steps.get().error_message
    assert httpserver.log == []


def test_a_connection_deactivated_after_save_fails_the_step(httpserver):
    connection = ConnectionFactory(credentials={"token": TOKEN})
    httpserver.expect_request("/echo").respond_with_handler(echo_auth)
    params = {"url": httpserver.url_for("/echo"), "connection": connection.pk}
    workflow = WorkflowFactory(actions=[{"id": "call", "type": "api_call", "params": params}])
    connection.is_active = False
    connection.save(update_fields=["is_active"])
    execution, _ = execution_create(workflow=workflow, trigger_type="manual", payload={})
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    assert execution.status == "failed"
    assert f"No active connection with id {connection.pk}" in execution.error_message
    assert httpserver.log == []


def test_saving_a_workflow_with_an_unknown_connection_is_400_naming_the_param(api):
    definition = {
        "name": "Bad connection",
        "actions": [
            {"id": "call", "type": "api_call",
             "params": {"url": "https://api.example.com/x", "connection": 999999}}
        ],
    }  # fmt: skip
    response = api.post(f"{BASE}/workflows", definition, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "actions": {"0": {"params": {"connection": ["No active connection with id 999999."]}}}
    }


def test_a_templated_connection_is_accepted_at_save_and_resolved_at_run(api, httpserver):
    connection = ConnectionFactory(credentials={"token": TOKEN})
    httpserver.expect_request("/echo").respond_with_handler(echo_auth)
    definition = {
        "name": "Templated connection",
        "actions": [
            {"id": "call", "type": "api_call",
             "params": {"url": httpserver.url_for("/echo"),
                        "connection": "{{ trigger.connection_id }}"}}
        ],
    }  # fmt: skip
    response = api.post(f"{BASE}/workflows", definition, format="json")
    assert response.status_code == 201, response.content
    workflow = AutomationWorkflow.objects.get(pk=response.json()["id"])
    execution, _ = execution_create(
        workflow=workflow, trigger_type="manual", payload={"connection_id": connection.pk}
    )
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    assert execution.status == "completed", execution.error_message
    request, _ = httpserver.log[0]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
