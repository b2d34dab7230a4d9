"""The Workflows tab: list, create and edit with the definition validated beside its fields, run
with a payload, activate / deactivate, delete with confirmation."""

import json

from tests.factories import ExecutionFactory, WorkflowFactory
from workflows.models import AutomationExecution, AutomationWorkflow

TRANSFORM = [{"id": "set", "type": "transform", "params": {"values": {"x": "{{ trigger.x }}"}}}]


def form_data(**overrides):
    data = {
        "name": "Greeter",
        "description": "",
        "workflow_type": "custom",
        "trigger": json.dumps({"type": "manual"}),
        "schedule": "",
        "actions": json.dumps(TRANSFORM),
        "max_concurrency": "",
        "is_active": "on",
        "webhook_secret": "",
    }
    data.update(overrides)
    return data


def test_the_list_shows_status_trigger_last_run_and_success_rate(staff_client):
    WorkflowFactory(
        name="Digest",
        run_count=4,
        success_count=3,
        failure_count=1,
        last_status="completed",
        schedule="0 * * * *",
        trigger={"type": "schedule"},
        trigger_type="schedule",
    )
    WorkflowFactory(name="Dormant", is_active=False)
    page = staff_client.get("/dashboard/").content.decode()
    assert "Digest" in page and "Dormant" in page
    assert "75.0 %" in page
    assert "Schedule" in page and "0 * * * *" in page
    assert ">inactive<" in page and ">active<" in page
    assert "never" in page


def test_a_valid_form_creates_the_workflow_through_the_service(staff_client, staff_user):
    response = staff_client.post("/dashboard/workflows/new/", form_data())
    workflow = AutomationWorkflow.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/workflows/{workflow.pk}/"
    assert workflow.actions == TRANSFORM
    assert workflow.created_by == staff_user
    assert workflow.trigger_type == "manual"


def test_a_bad_action_is_refused_with_the_error_beside_the_actions_field(staff_client):
    bad = [{"id": "call", "type": "api_call", "params": {"url": "not a url"}}]
    response = staff_client.post("/dashboard/workflows/new/", form_data(actions=json.dumps(bad)))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == ["actions"]
    assert errors["actions"][0].startswith("action 1 › params › url:")
    page = response.content.decode()
    assert 'id="field-actions"' in page and "field-errors" in page
    assert not AutomationWorkflow.objects.exists()


def test_a_bad_cron_is_shown_beside_the_schedule_field(staff_client):
    response = staff_client.post(
        "/dashboard/workflows/new/",
        form_data(trigger=json.dumps({"type": "schedule"}), schedule="every day"),
    )
    assert response.status_code == 400
    assert "five-field cron" in response.context["form"].errors["schedule"][0]


def test_json_that_does_not_parse_keeps_the_text_typed(staff_client):
    response = staff_client.post("/dashboard/workflows/new/", form_data(trigger="{type: manual"))
    assert response.status_code == 400
    assert "trigger" in response.context["form"].errors
    assert "{type: manual" in response.content.decode()


def test_an_unknown_trigger_type_is_shown_beside_the_trigger_field(staff_client):
    response = staff_client.post(
        "/dashboard/workflows/new/", form_data(trigger=json.dumps({"type": "sometimes"}))
    )
    assert response.status_code == 400
    assert response.context["form"].errors["trigger"][0].startswith("type: Unknown trigger type")


def test_editing_the_definition_bumps_the_version(staff_client):
    workflow = WorkflowFactory(name="Old name")
    page = staff_client.get(f"/dashboard/workflows/{workflow.pk}/edit/").content.decode()
    assert "Old name" in page and 'name="s0-type" value="transform"' in page
    response = staff_client.post(
        f"/dashboard/workflows/{workflow.pk}/edit/", form_data(name="New name")
    )
    assert response.status_code == 302
    workflow.refresh_from_db()
    assert (workflow.name, workflow.version, workflow.actions) == ("New name", 2, TRANSFORM)


def test_an_edit_records_who_changed_the_definition_and_why(staff_client, staff_user):
    workflow = WorkflowFactory()
    staff_client.post(
        f"/dashboard/workflows/{workflow.pk}/edit/", form_data(change_note="Greet by name")
    )
    revision = workflow.revisions.order_by("-number").first()
    assert (revision.change_note, revision.created_by) == ("Greet by name", staff_user)


def test_the_webhook_secret_is_write_only(staff_client):
    response = staff_client.post(
        "/dashboard/workflows/new/",
        form_data(trigger=json.dumps({"type": "webhook"}), webhook_secret="s" * 24),
    )
    workflow = AutomationWorkflow.objects.get()
    assert response.status_code == 302
    assert workflow.webhook_secret == "s" * 24
    page = staff_client.get(f"/dashboard/workflows/{workflow.pk}/edit/").content.decode()
    assert "s" * 24 not in page


def test_running_with_a_payload_queues_a_manual_execution(
    staff_client, django_capture_on_commit_callbacks
):
    workflow = WorkflowFactory(actions=TRANSFORM)
    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_client.post(
            f"/dashboard/workflows/{workflow.pk}/run/", {"payload": '{"x": 42}'}
        )
    execution = AutomationExecution.objects.get()
    assert response["Location"] == f"/dashboard/executions/{execution.pk}/"
    assert (execution.trigger_type, execution.trigger_payload) == ("manual", {"x": 42})
    assert callbacks, "the execution is sent to a worker after commit"


def test_a_payload_that_is_not_an_object_is_refused(staff_client):
    workflow = WorkflowFactory()
    response = staff_client.post(f"/dashboard/workflows/{workflow.pk}/run/", {"payload": "[1]"})
    assert response.status_code == 400
    assert "must be a JSON object" in response.context["form"].errors["payload"][0]
    assert not AutomationExecution.objects.exists()


def test_deactivate_and_activate(staff_client):
    workflow = WorkflowFactory()
    staff_client.post(f"/dashboard/workflows/{workflow.pk}/activate/", {"is_active": "0"})
    workflow.refresh_from_db()
    assert not workflow.is_active
    response = staff_client.post(
        f"/dashboard/workflows/{workflow.pk}/activate/", {"is_active": "1", "back": "detail"}
    )
    workflow.refresh_from_db()
    assert workflow.is_active
    assert response["Location"] == f"/dashboard/workflows/{workflow.pk}/"


def test_activate_accepts_only_post(staff_client):
    workflow = WorkflowFactory()
    assert staff_client.get(f"/dashboard/workflows/{workflow.pk}/activate/").status_code == 405


def test_delete_asks_first_then_deletes_with_the_executions(staff_client):
    workflow = WorkflowFactory(name="Doomed")
    ExecutionFactory(workflow=workflow)
    page = staff_client.get(f"/dashboard/workflows/{workflow.pk}/delete/").content.decode()
    assert "Delete “Doomed”?" in page
    assert AutomationWorkflow.objects.filter(pk=workflow.pk).exists()
    response = staff_client.post(f"/dashboard/workflows/{workflow.pk}/delete/")
    assert response["Location"] == "/dashboard/"
    assert not AutomationWorkflow.objects.exists()
    assert not AutomationExecution.objects.exists()


def test_the_detail_page_shows_stats_the_chart_and_recent_executions(staff_client):
    workflow = WorkflowFactory(name="Digest")
    ExecutionFactory(workflow=workflow, status="failed", error_message="boom")
    page = staff_client.get(f"/dashboard/workflows/{workflow.pk}/").content.decode()
    assert "Statistics" in page and "<svg" in page and "boom" in page


def test_an_unknown_workflow_is_a_404(staff_client):
    assert staff_client.get("/dashboard/workflows/999/").status_code == 404
