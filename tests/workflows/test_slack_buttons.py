"""Approve and Reject buttons in a Slack app's message: the approval posts them with
chat.postMessage, Slack posts the click back signed with the app's signing secret, the clicker
is matched by e-mail (users.info) and votes, and the outcome goes to the message's response_url.
Slack's side is a local stub answering as the Web API does."""

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient
from werkzeug import Response

from tests.factories import ConnectionFactory, UserFactory
from tests.workflows.test_approvals import approval_workflow, resume
from tests.workflows.test_pauses import run
from workflows.models import AuditEntry

pytestmark = pytest.mark.django_db

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
URL = "/api/workflow-orchestration/integrations/slack/{}/interactions"
EMAILS = {"U1ALICE": "alice@example.com", "U2BOB": "Bob@Example.com", "U3EVE": "eve@else.org"}


@pytest.fixture
def slack_app(httpserver, allow_loopback):
    httpserver.expect_request("/api/chat.postMessage").respond_with_json(
        {"ok": True, "channel": "C1", "ts": "1700000000.000100"}
    )

    def users_info(request):
        user = request.args.get("user", "")
        if user not in EMAILS:
            return Response(json.dumps({"ok": False, "error": "user_not_found"}), 200)
        answer = {"ok": True, "user": {"id": user, "profile": {"email": EMAILS[user]}}}
        return Response(json.dumps(answer), 200, content_type="application/json")

    httpserver.expect_request("/api/users.info", method="GET").respond_with_handler(users_info)
    httpserver.expect_request("/respond").respond_with_json({"ok": True})
    return ConnectionFactory(
        platform="slack",
        webhook_url="",
        credentials={"token": "xoxb-1", "signing_secret": SECRET},
        config={"api_base_url": httpserver.url_for("/api"), "channel": "#editorial"},
    )


@pytest.fixture
def editors():
    group = Group.objects.create(name="editors")
    alice = UserFactory(username="alice", email="alice@example.com")
    bob = UserFactory(username="bob", email="bob@example.com")
    group.user_set.add(alice, bob)
    return alice, bob


def posted_buttons(httpserver) -> dict[str, str]:
    [message] = [r.get_json() for r, _ in httpserver.log if r.path.endswith("chat.postMessage")]
    [_section, actions] = message["blocks"]
    return {element["action_id"]: element["value"] for element in actions["elements"]}


def click(client, connection, httpserver, *, user: str, action_id: str, value: str, secret=SECRET):
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T1"},
        "api_app_id": "A1",
        "trigger_id": "123.456.abc",
        "team": {"id": "T1", "domain": "editorial"},
        "channel": {"id": "C1", "name": "editorial"},
        "container": {"type": "message", "message_ts": "1700000000.000100"},
        "response_url": httpserver.url_for("/respond"),
        "actions": [
            {
                "action_id": action_id,
                "block_id": "b1",
                "type": "button",
                "value": value,
                "text": {"type": "plain_text", "text": "Approve"},
                "action_ts": "1700000001.000200",
            }
        ],
    }
    body = urlencode({"payload": json.dumps(payload)})
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256)
    return client.post(
        URL.format(connection.pk),
        body,
        content_type="application/x-www-form-urlencoded",
        HTTP_X_SLACK_REQUEST_TIMESTAMP=timestamp,
        HTTP_X_SLACK_SIGNATURE=f"v0={digest.hexdigest()}",
    )


def replies(httpserver) -> list[str]:
    return [r.get_json()["text"] for r, _ in httpserver.log if r.path == "/respond"]


def test_two_editors_click_approve_in_slack_and_the_run_goes_on(slack_app, httpserver, editors):
    workflow = approval_workflow(
        approvers={"groups": ["editors"]},
        quorum=2,
        notify={"channel": "slack", "connection": slack_app.pk},
    )
    execution = run(workflow)
    buttons = posted_buttons(httpserver)
    assert set(buttons) == {"approval_approve", "approval_reject"}
    client = APIClient()
    first = click(client, slack_app, httpserver, user="U1ALICE", action_id="approval_approve",
                  value=buttons["approval_approve"])  # fmt: skip
    assert first.status_code == 200
    assert first.json()["text"].endswith("more approvals are needed.")
    again = click(client, slack_app, httpserver, user="U1ALICE", action_id="approval_approve",
                  value=buttons["approval_approve"])  # fmt: skip
    assert again.json()["text"] == "alice has decided on this step already."
    second = click(client, slack_app, httpserver, user="U2BOB", action_id="approval_approve",
                   value=buttons["approval_approve"])  # fmt: skip
    assert second.json()["text"] == f"bob approved execution #{execution.pk}: decided."
    assert replies(httpserver) == [
        first.json()["text"],
        again.json()["text"],
        second.json()["text"],
    ]
    execution = resume(execution)
    assert execution.status == "completed"
    votes = execution.context["steps"]["ok"]["votes"]
    assert [(vote["by"], vote["via"]) for vote in votes] == [("alice", "slack"), ("bob", "slack")]
    assert AuditEntry.objects.get(action="approved").actor["name"] == "bob"


def test_a_click_from_someone_unknown_or_not_an_approver_decides_nothing(
    slack_app, httpserver, editors
):
    UserFactory(username="eve", email="eve@else.org")
    workflow = approval_workflow(
        approvers={"users": ["alice"]}, notify={"channel": "slack", "connection": slack_app.pk}
    )
    execution = run(workflow)
    buttons = posted_buttons(httpserver)
    client = APIClient()
    stranger = click(client, slack_app, httpserver, user="U9NOBODY", action_id="approval_reject",
                     value=buttons["approval_reject"])  # fmt: skip
    assert "matches no single user here" in stranger.json()["text"]
    eve = click(client, slack_app, httpserver, user="U3EVE", action_id="approval_reject",
                value=buttons["approval_reject"])  # fmt: skip
    assert eve.json()["text"] == "eve is not an approver of this step."
    assert "votes" not in execution.steps.get(step_id="ok").output
    rejected = click(client, slack_app, httpserver, user="U1ALICE", action_id="approval_reject",
                     value=buttons["approval_reject"])  # fmt: skip
    assert rejected.json()["text"] == f"alice rejected execution #{execution.pk}: decided."
    assert resume(execution).status == "failed"


def test_a_request_slack_did_not_sign_or_a_made_up_button_is_refused(
    slack_app, httpserver, editors
):
    workflow = approval_workflow(
        approvers={"users": ["alice"]}, notify={"channel": "slack", "connection": slack_app.pk}
    )
    execution = run(workflow)
    value = posted_buttons(httpserver)["approval_approve"]
    client = APIClient()
    forged = click(client, slack_app, httpserver, user="U1ALICE", action_id="approval_approve",
                   value=value, secret="not-the-secret")  # fmt: skip
    assert forged.status_code == 401
    made_up = click(client, slack_app, httpserver, user="U1ALICE", action_id="approval_approve",
                    value=value[:-3] + "xyz")  # fmt: skip
    assert made_up.status_code == 400
    assert made_up.json() == {"detail": "This button is not one of ours."}
    assert (
        client.post(
            URL.format(999999), "payload=%7B%7D", content_type="application/x-www-form-urlencoded"
        ).status_code
        == 404
    )
    junk = client.post(
        URL.format(slack_app.pk), b"\xff\xfe", content_type="application/x-www-form-urlencoded"
    )
    assert junk.status_code == 401
    assert "votes" not in execution.steps.get(step_id="ok").output


def test_a_slack_webhook_connection_gets_links_but_no_buttons(httpserver, allow_loopback, editors):
    httpserver.expect_request("/hook").respond_with_data("ok")
    hook = ConnectionFactory(platform="slack", webhook_url=httpserver.url_for("/hook"))
    run(approval_workflow(approvers={"users": ["alice"]},
                          notify={"channel": "slack", "connection": hook.pk}))  # fmt: skip
    [(request, _)] = httpserver.log
    assert set(request.get_json()) == {"text"}
    assert "alice: http" in request.get_json()["text"]
