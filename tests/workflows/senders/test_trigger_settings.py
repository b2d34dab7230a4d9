"""trigger.sender, trigger.events and the secret a sender needs, checked when a workflow is saved;
and what a generic delivery puts in the run's context."""

import json

import pytest

from tests.workflows.senders.hooks import ACTIONS, SECRET, execution_of, hook_workflow, post
from workflows.models import AutomationWorkflow

pytestmark = pytest.mark.django_db

WORKFLOWS = "/api/workflow-orchestration/workflows"


def save(api, trigger, **fields):
    data = {"name": "Hook", "trigger": {"type": "webhook", **trigger}, "actions": ACTIONS}
    return api.post(WORKFLOWS, {**data, **fields}, format="json")


def test_an_unknown_sender_is_a_400_naming_trigger_sender(api):
    response = save(api, {"sender": "bitbucket"}, webhook_secret=SECRET)
    assert response.status_code == 400
    message = response.json()["trigger"]["sender"][0]
    assert "Unknown sender 'bitbucket'" in message
    assert "github" in message


@pytest.mark.parametrize("events", ["push", [], ["push", 3], [""], {"push": True}])
def test_events_must_be_a_list_of_event_names(api, events):
    response = save(api, {"sender": "github", "events": events}, webhook_secret=SECRET)
    assert response.status_code == 400
    assert "list of 1 to 100 event names" in response.json()["trigger"]["events"][0]


def test_a_sender_on_a_trigger_that_is_not_a_webhook_is_a_400(api):
    data = {"name": "Manual", "trigger": {"type": "manual", "sender": "github"}, "actions": []}
    response = api.post(WORKFLOWS, data, format="json")
    assert response.status_code == 400
    assert "sender" in response.json()["trigger"]


@pytest.mark.parametrize("sender", ["github", "gitlab", "stripe", "slack", "ghost"])
def test_a_sender_that_verifies_deliveries_needs_a_secret_when_saved(api, sender):
    response = save(api, {"sender": sender})
    assert response.status_code == 400
    assert f"The {sender} sender verifies every delivery" in response.json()["webhook_secret"][0]
    assert AutomationWorkflow.objects.count() == 0


def test_a_sender_with_its_secret_is_saved(api):
    response = save(api, {"sender": "github", "events": ["push"]}, webhook_secret=SECRET)
    assert response.status_code == 201
    assert response.json()["trigger"] == {"type": "webhook", "sender": "github", "events": ["push"]}


def test_the_generic_sender_still_accepts_a_workflow_without_a_secret(api):
    assert save(api, {}).status_code == 201
    assert save(api, {"sender": "generic"}).status_code == 201


def test_switching_to_a_verifying_sender_keeps_the_secret_already_set(api):
    workflow = hook_workflow("generic")
    trigger = {"type": "webhook", "sender": "stripe"}
    response = api.patch(f"{WORKFLOWS}/{workflow.pk}", {"trigger": trigger}, format="json")
    assert response.status_code == 200


def test_switching_to_a_verifying_sender_without_any_secret_is_a_400(api):
    workflow = hook_workflow("generic", secret="")
    trigger = {"type": "webhook", "sender": "stripe"}
    response = api.patch(f"{WORKFLOWS}/{workflow.pk}", {"trigger": trigger}, format="json")
    assert response.status_code == 400
    assert "webhook_secret" in response.json()


def test_a_verifying_sender_saved_without_a_secret_refuses_every_delivery():
    # Only possible by writing the row past the API (an import, the shell): it fails closed.
    workflow = hook_workflow("github", secret="")
    response = post(workflow, b"{}", x_github_event="push")
    assert response.status_code == 401
    assert "has no webhook_secret" in response.json()["detail"]


def test_a_generic_delivery_puts_its_id_and_allowed_headers_in_the_context():
    workflow = hook_workflow("generic", secret="")
    response = post(workflow, json.dumps({"n": 1}).encode(), x_delivery_id="d-1", x_other="no")
    assert execution_of(response).context["webhook"] == {
        "sender": "generic",
        "event": None,
        "delivery_id": "d-1",
        "headers": {"content-type": "application/json", "x-delivery-id": "d-1"},
    }


def test_a_generic_delivery_is_named_by_trigger_event():
    workflow = hook_workflow("generic", secret="", event="article.scored")
    execution = execution_of(post(workflow, b"{}"))
    assert execution.context["webhook"]["event"] == "article.scored"


def test_a_delivery_without_an_event_is_ignored_by_an_events_filter_and_says_so():
    workflow = hook_workflow("generic", secret="", events=["push"])
    response = post(workflow, b"{}")
    assert response.status_code == 200
    assert response.json() == {
        "ignored": True,
        "event": None,
        "reason": "The delivery names no event; trigger.events lists push. Nothing was run.",
    }
