"""The Django admin: every model of the apps is registered, and workflow edits there go through
the same validation and services as the API and the dashboard."""

import json
import re

import pytest
from django.apps import apps
from django.contrib import admin

from tests.factories import ExecutionFactory, WorkflowFactory
from workflows.models import AutomationExecution, AutomationWorkflow

APPS = ("workflows", "alerts", "versioning", "orchestration", "integrations")
ADD_URL = "/admin/workflows/automationworkflow/add/"


@pytest.mark.parametrize("app", APPS)
def test_every_model_of_the_app_has_an_admin_page_or_an_inline(app):
    inlines = {
        inline.model
        for model_admin in admin.site._registry.values()
        for inline in model_admin.inlines
    }
    missing = [
        model.__name__
        for model in apps.get_app_config(app).get_models()
        if model not in admin.site._registry and model not in inlines
    ]
    assert missing == []


def with_hidden_inputs(client, url, data):
    """The form's data plus the hidden inputs the page renders (inline management forms), as a
    browser would send them."""
    page = client.get(url).content.decode()
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    hidden.pop("csrfmiddlewaretoken", None)
    return {**hidden, **data}


def admin_form(**overrides):
    data = {
        "name": "From the admin",
        "description": "",
        "workflow_type": "custom",
        "trigger": json.dumps({"type": "manual"}),
        "actions": json.dumps([{"id": "a", "type": "transform", "params": {"values": {"x": 1}}}]),
        "schedule": "",
        "is_active": "on",
        "max_concurrency": "",
    }
    data.update(overrides)
    return data


def test_an_invalid_definition_is_refused_beside_its_field(admin_client):
    bad = json.dumps([{"id": "a", "type": "no_such_type", "params": {}}])
    response = admin_client.post(
        ADD_URL, with_hidden_inputs(admin_client, ADD_URL, admin_form(actions=bad))
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["actions"][0].startswith("0.type: Unknown action type")
    assert not AutomationWorkflow.objects.exists()


def test_a_sender_that_needs_a_secret_is_refused_in_the_admin_without_one(admin_client):
    hook = json.dumps({"type": "webhook", "sender": "github"})
    response = admin_client.post(
        ADD_URL, with_hidden_inputs(admin_client, ADD_URL, admin_form(trigger=hook))
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert errors[0].startswith("The github sender verifies every delivery")
    assert not AutomationWorkflow.objects.exists()


def test_a_workflow_added_in_the_admin_is_created_by_the_service(admin_client, admin_user):
    hook = json.dumps({"type": "webhook"})
    response = admin_client.post(
        ADD_URL, with_hidden_inputs(admin_client, ADD_URL, admin_form(trigger=hook))
    )
    assert response.status_code == 302
    workflow = AutomationWorkflow.objects.get()
    assert workflow.trigger_type == "webhook" and workflow.webhook_token
    assert workflow.created_by == admin_user


def test_changing_the_trigger_in_the_admin_follows_through(admin_client):
    workflow = WorkflowFactory()
    url = f"/admin/workflows/automationworkflow/{workflow.pk}/change/"
    data = admin_form(trigger=json.dumps({"type": "schedule"}), schedule="*/5 * * * *")
    response = admin_client.post(url, with_hidden_inputs(admin_client, url, data))
    assert response.status_code == 302
    workflow.refresh_from_db()
    assert (workflow.trigger_type, workflow.schedule, workflow.version) == (
        "schedule",
        "*/5 * * * *",
        2,
    )


def test_deleting_in_the_admin_takes_the_executions_with_it(admin_client):
    workflow = WorkflowFactory()
    ExecutionFactory(workflow=workflow)
    response = admin_client.post(
        f"/admin/workflows/automationworkflow/{workflow.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not AutomationWorkflow.objects.exists()
    assert not AutomationExecution.objects.exists()


def test_the_admin_pages_of_workflows_and_executions_render(admin_client):
    execution = ExecutionFactory()
    for url in (
        "/admin/workflows/automationworkflow/",
        f"/admin/workflows/automationworkflow/{execution.workflow_id}/change/",
        "/admin/workflows/automationexecution/",
        f"/admin/workflows/automationexecution/{execution.pk}/change/",
        "/admin/workflows/automationexecutionstep/",
    ):
        assert admin_client.get(url).status_code == 200, url
