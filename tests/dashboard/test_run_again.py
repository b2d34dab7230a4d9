"""Run again: an execution's page holds its trigger payload in a form, and posting it (edited or
not) queues a new manual execution of the same workflow and follows it."""

import json

from tests.factories import ExecutionFactory, WorkflowFactory
from workflows.models import AutomationExecution


def test_the_page_prefills_the_form_with_the_executions_payload(staff_client):
    execution = ExecutionFactory(trigger_payload={"city": "Lyon"}, status="completed")
    response = staff_client.get(f"/dashboard/executions/{execution.pk}/")
    page = response.content.decode()
    assert 'name="again-payload"' in page
    assert "&quot;city&quot;: &quot;Lyon&quot;" in page
    assert f'action="/dashboard/executions/{execution.pk}/run-again/"' in page


def test_an_edited_payload_queues_a_new_manual_run_and_follows_it(staff_client):
    workflow = WorkflowFactory(name="Weather")
    execution = ExecutionFactory(
        workflow=workflow, trigger_type="webhook", trigger_payload={"city": "Lyon"}
    )
    response = staff_client.post(
        f"/dashboard/executions/{execution.pk}/run-again/",
        {"again-payload": json.dumps({"city": "Nantes"})},
    )
    created = AutomationExecution.objects.exclude(pk=execution.pk).get()
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/executions/{created.pk}/"
    assert created.workflow_id == workflow.pk
    assert created.trigger_type == "manual" and created.status == "queued"
    assert created.trigger_payload == {"city": "Nantes"}
    execution.refresh_from_db()
    assert execution.trigger_payload == {"city": "Lyon"}


def test_invalid_json_stays_in_its_field_with_the_error_beside_it(staff_client):
    execution = ExecutionFactory(trigger_payload={"city": "Lyon"})
    response = staff_client.post(
        f"/dashboard/executions/{execution.pk}/run-again/", {"again-payload": '{"city": '}
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="field-again-payload"' in page
    field = page[page.index('id="field-again-payload"') :]
    assert "Enter a valid JSON." in field[: field.index("</div>")]
    assert "{&quot;city&quot;: </textarea>" in page
    assert AutomationExecution.objects.count() == 1


def test_a_payload_that_is_not_an_object_or_nests_too_deep_is_refused(staff_client):
    execution = ExecutionFactory()
    for payload in ("[1, 2]", "[" * 200 + "]" * 200):
        response = staff_client.post(
            f"/dashboard/executions/{execution.pk}/run-again/", {"again-payload": payload}
        )
        assert response.status_code == 400
    assert AutomationExecution.objects.count() == 1


def test_run_again_is_post_only_and_staff_only(staff_client, plain_client):
    execution = ExecutionFactory()
    url = f"/dashboard/executions/{execution.pk}/run-again/"
    assert staff_client.get(url).status_code == 405
    assert plain_client.post(url, {"again-payload": "{}"}).status_code == 403
    assert AutomationExecution.objects.count() == 1
