"""GitHub deliveries as GitHub sends them: JSON or form, signed over the raw body."""

from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from tests.workflows.senders.hooks import (
    FORM,
    SECRET,
    example,
    example_json,
    execution_of,
    hmac_hex,
    hook_workflow,
    post,
)
from workflows.models import AutomationExecution
from workflows.senders.github import GitHubSender

pytestmark = pytest.mark.django_db

DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958"


def deliver(workflow, body, event, content_type="application/json", secret=SECRET, **headers):
    return post(
        workflow,
        body,
        content_type,
        x_github_event=event,
        x_github_delivery=headers.pop("delivery", DELIVERY),
        x_hub_signature_256=f"sha256={hmac_hex(secret, body)}",
        user_agent="GitHub-Hookshot/044aadd",
        **headers,
    )


def test_a_json_push_runs_with_the_event_and_delivery_in_its_context():
    workflow = hook_workflow("github")
    execution = execution_of(deliver(workflow, example("github/push.json"), "push"))
    assert execution.trigger_payload == example_json("github/push.json")
    assert execution.context["webhook"] == {
        "sender": "github",
        "event": "push",
        "delivery_id": DELIVERY,
        "headers": {
            "content-type": "application/json",
            "user-agent": "GitHub-Hookshot/044aadd",
            "x-github-event": "push",
            "x-github-delivery": DELIVERY,
        },
    }


def test_a_form_encoded_delivery_reads_to_the_same_payload_as_json():
    workflow = hook_workflow("github")
    body = urlencode({"payload": example("github/push.json").decode()}).encode()
    execution = execution_of(deliver(workflow, body, "push", FORM))
    assert execution.trigger_payload == example_json("github/push.json")


def test_an_issues_delivery_is_told_apart_from_a_push():
    workflow = hook_workflow("github")
    execution = execution_of(deliver(workflow, example("github/issues-opened.json"), "issues"))
    assert execution.context["webhook"]["event"] == "issues"
    assert execution.trigger_payload["action"] == "opened"


@pytest.mark.parametrize("content_type", ["application/json", FORM])
def test_a_ping_is_answered_200_and_runs_nothing(content_type):
    workflow = hook_workflow("github")
    body = example("github/ping.json")
    if content_type == FORM:
        body = urlencode({"payload": body.decode()}).encode()
    response = deliver(workflow, body, "ping", content_type)
    assert response.status_code == 200
    assert "ping" in response.json()["detail"]
    assert AutomationExecution.objects.count() == 0


def test_a_signature_made_with_another_secret_is_401():
    workflow = hook_workflow("github")
    response = deliver(workflow, example("github/push.json"), "push", secret="another-secret-value")
    assert response.status_code == 401
    assert "X-Hub-Signature-256" in response.json()["detail"]
    assert AutomationExecution.objects.count() == 0


def test_an_unsigned_delivery_is_401():
    workflow = hook_workflow("github")
    response = post(workflow, example("github/push.json"), x_github_event="push")
    assert response.status_code == 401
    assert "Missing X-Hub-Signature-256" in response.json()["detail"]


def test_an_event_outside_trigger_events_is_answered_200_and_runs_nothing():
    workflow = hook_workflow("github", events=["push"])
    response = deliver(workflow, example("github/issues-opened.json"), "issues")
    assert response.status_code == 200
    assert response.json()["ignored"] is True
    assert "'issues' is not in trigger.events (push)" in response.json()["reason"]
    assert AutomationExecution.objects.count() == 0


def test_an_event_listed_in_trigger_events_runs():
    workflow = hook_workflow("github", events=["push", "issues"])
    assert deliver(workflow, example("github/issues-opened.json"), "issues").status_code == 202


def test_a_redelivery_returns_the_first_execution():
    workflow = hook_workflow("github")
    first = deliver(workflow, example("github/push.json"), "push").json()
    again = deliver(workflow, example("github/push.json"), "push").json()
    assert again == {"execution_id": first["execution_id"], "duplicate": True}
    assert AutomationExecution.objects.count() == 1


def test_a_body_github_never_sends_is_400():
    workflow = hook_workflow("github")
    response = deliver(workflow, b"payload=x", "push", "text/plain")
    assert response.status_code == 400


def test_the_check_reproduces_githubs_published_example():
    # docs.github.com, "Validating webhook deliveries": secret, payload and expected signature.
    sender = GitHubSender()
    signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    now = datetime.now(UTC)
    secrets = ["It's a Secret to Everybody"]
    headers = {"x-hub-signature-256": signature}
    assert sender.verify(body=b"Hello, World!", headers=headers, secrets=secrets, now=now) is None
    assert sender.verify(body=b"Hello, World?", headers=headers, secrets=secrets, now=now)


def test_a_step_reads_the_github_event_from_the_webhook_context():
    from workflows.engine import execution_run

    values = {"event": "{{ webhook.event }}", "sender": "{{ webhook.sender }}"}
    workflow = hook_workflow("github")
    workflow.actions = [{"id": "route", "type": "transform", "params": {"values": values}}]
    workflow.save()
    execution = execution_of(deliver(workflow, example("github/push.json"), "push"))
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    assert execution.status == "completed"
    assert execution.context["steps"]["route"] == {"event": "push", "sender": "github"}


def test_a_delivery_nested_too_deep_is_refused_with_a_400_not_a_500():
    workflow = hook_workflow("github")
    body = b"[" * 100_000 + b"]" * 100_000
    response = deliver(workflow, body, "push")
    assert response.status_code == 400
    form = urlencode({"payload": "[" * 100_000}).encode()
    assert deliver(workflow, form, "push", FORM).status_code == 400
