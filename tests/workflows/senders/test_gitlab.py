"""GitLab deliveries: a shared token in X-Gitlab-Token, the event in X-Gitlab-Event."""

import pytest

from tests.workflows.senders.hooks import (
    SECRET,
    example,
    example_json,
    execution_of,
    hook_workflow,
    post,
)
from workflows.models import AutomationExecution
from workflows.services.workflows import workflow_update

pytestmark = pytest.mark.django_db

KEY = "908a6d9e-45fd-46c8-97e6-c4f350f219dd"


def deliver(workflow, name="gitlab/push.json", event="Push Hook", token=SECRET, **headers):
    headers.setdefault("idempotency_key", KEY)
    headers.setdefault("x_gitlab_event_uuid", "13792a34-cac6-4fda-95a8-c58e00a3954e")
    headers.setdefault("x_gitlab_webhook_uuid", "2d4e6c1f-0e4b-4a9e-9c5e-0b6c9d4b7f1a")
    return post(
        workflow,
        example(name),
        x_gitlab_event=event,
        x_gitlab_token=token,
        x_gitlab_instance="https://gitlab.example.com",
        user_agent="GitLab/17.5.0",
        **headers,
    )


def test_a_push_runs_with_the_event_and_delivery_in_its_context():
    workflow = hook_workflow("gitlab")
    execution = execution_of(deliver(workflow))
    assert execution.trigger_payload == example_json("gitlab/push.json")
    assert execution.context["webhook"] == {
        "sender": "gitlab",
        "event": "Push Hook",
        "delivery_id": KEY,
        "headers": {
            "content-type": "application/json",
            "user-agent": "GitLab/17.5.0",
            "x-gitlab-event": "Push Hook",
            "x-gitlab-instance": "https://gitlab.example.com",
            "idempotency-key": KEY,
            "x-gitlab-event-uuid": "13792a34-cac6-4fda-95a8-c58e00a3954e",
            "x-gitlab-webhook-uuid": "2d4e6c1f-0e4b-4a9e-9c5e-0b6c9d4b7f1a",
        },
    }


def test_the_token_never_reaches_the_context():
    workflow = hook_workflow("gitlab")
    execution = execution_of(deliver(workflow))
    assert SECRET not in str(execution.context)


def test_a_wrong_token_is_401():
    workflow = hook_workflow("gitlab")
    response = deliver(workflow, token="not-the-secret-token")
    assert response.status_code == 401
    assert AutomationExecution.objects.count() == 0


def test_a_missing_token_is_401():
    workflow = hook_workflow("gitlab")
    response = post(workflow, example("gitlab/push.json"), x_gitlab_event="Push Hook")
    assert response.status_code == 401
    assert "Missing X-Gitlab-Token" in response.json()["detail"]


def test_the_previous_token_works_during_a_rotation():
    workflow = hook_workflow("gitlab")
    workflow_update(workflow=workflow, data={"webhook_secret": "the-next-token-0123456789"})
    assert deliver(workflow, token=SECRET).status_code == 202
    assert deliver(workflow, token="the-next-token-0123456789").status_code == 202


def test_a_retry_with_the_same_idempotency_key_returns_the_first_execution():
    # GitLab keeps Idempotency-Key across retries; X-Gitlab-Webhook-UUID is new each time.
    workflow = hook_workflow("gitlab")
    first = deliver(workflow, x_gitlab_webhook_uuid="first-request").json()
    again = deliver(workflow, x_gitlab_webhook_uuid="second-request").json()
    assert again == {"execution_id": first["execution_id"], "duplicate": True}


def test_without_idempotency_key_the_event_uuid_is_the_delivery_id():
    workflow = hook_workflow("gitlab")
    response = deliver(workflow, idempotency_key="", x_gitlab_event_uuid="event-uuid-1")
    assert execution_of(response).context["webhook"]["delivery_id"] == "event-uuid-1"


def test_an_event_outside_trigger_events_is_answered_200_and_runs_nothing():
    workflow = hook_workflow("gitlab", events=["Push Hook"])
    response = deliver(workflow, "gitlab/tag-push.json", "Tag Push Hook")
    assert response.status_code == 200
    assert "'Tag Push Hook' is not in trigger.events" in response.json()["reason"]
    assert AutomationExecution.objects.count() == 0
