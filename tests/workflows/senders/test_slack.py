"""Slack deliveries: X-Slack-Signature v0 over "v0:<timestamp>:<raw body>" within 5 minutes; the
Events API in JSON, slash commands and interactivity as forms."""

import time
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
from workflows.senders.slack import SlackSender

pytestmark = pytest.mark.django_db

# Slack's worked example ("Verifying requests from Slack"): secret, timestamp, body, signature.
DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TIMESTAMP = 1531420618
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
SLASH_COMMAND = example("slack/slash-command.form")


def deliver(workflow, body, content_type="application/json", *, age_s=0, secret=SECRET, **headers):
    timestamp = str(int(time.time()) - age_s)
    signature = "v0=" + hmac_hex(secret, f"v0:{timestamp}:".encode() + body)
    return post(
        workflow,
        body,
        content_type,
        x_slack_request_timestamp=timestamp,
        x_slack_signature=signature,
        **headers,
    )


def doc_check(body: bytes, *, seconds_later: int) -> str | None:
    return SlackSender().verify(
        body=body,
        headers={
            "x-slack-request-timestamp": str(DOC_TIMESTAMP),
            "x-slack-signature": DOC_SIGNATURE,
        },
        secrets=[DOC_SECRET],
        now=datetime.fromtimestamp(DOC_TIMESTAMP + seconds_later, UTC),
    )


def test_the_check_reproduces_slacks_published_example():
    assert doc_check(SLASH_COMMAND, seconds_later=30) is None


def test_slacks_published_example_is_refused_after_five_minutes():
    assert "more than 300 s" in doc_check(SLASH_COMMAND, seconds_later=301)


def test_slacks_published_example_is_refused_when_one_byte_changes():
    assert doc_check(SLASH_COMMAND.replace(b"foobar", b"foobaz"), seconds_later=30)


def test_an_events_api_callback_runs_named_by_its_inner_event():
    workflow = hook_workflow("slack")
    body = example("slack/app-mention.json")
    execution = execution_of(deliver(workflow, body))
    assert execution.trigger_payload == example_json("slack/app-mention.json")
    webhook = execution.context["webhook"]
    assert (webhook["event"], webhook["delivery_id"]) == ("app_mention", "Ev123ABC456")
    assert "x-slack-request-timestamp" in webhook["headers"]
    assert "x-slack-signature" not in webhook["headers"]


def test_url_verification_is_answered_with_its_challenge_and_runs_nothing():
    workflow = hook_workflow("slack")
    response = deliver(workflow, example("slack/url-verification.json"))
    assert response.status_code == 200
    challenge = example_json("slack/url-verification.json")["challenge"]
    assert response.json() == {"challenge": challenge}
    assert AutomationExecution.objects.count() == 0


def test_a_stale_timestamp_is_401():
    workflow = hook_workflow("slack")
    response = deliver(workflow, example("slack/app-mention.json"), age_s=301)
    assert response.status_code == 401
    assert AutomationExecution.objects.count() == 0


def test_a_signature_under_another_secret_is_401():
    workflow = hook_workflow("slack")
    response = deliver(workflow, example("slack/app-mention.json"), secret=DOC_SECRET)
    assert response.status_code == 401


def test_a_slash_command_form_runs_named_by_its_command():
    workflow = hook_workflow("slack")
    execution = execution_of(deliver(workflow, SLASH_COMMAND, FORM))
    assert execution.trigger_payload["channel_name"] == "foobar"
    assert execution.trigger_payload["text"] == ""
    webhook = execution.context["webhook"]
    assert webhook["event"] == "/webhook-collect"
    assert webhook["delivery_id"] == "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"


def test_an_interaction_form_runs_with_its_json_payload():
    workflow = hook_workflow("slack", events=["block_actions"])
    body = urlencode({"payload": example("slack/block-actions.json").decode()}).encode()
    execution = execution_of(deliver(workflow, body, FORM))
    assert execution.trigger_payload == example_json("slack/block-actions.json")
    assert execution.context["webhook"]["event"] == "block_actions"


def test_a_retried_event_returns_the_first_execution():
    workflow = hook_workflow("slack")
    body = example("slack/app-mention.json")
    first = deliver(workflow, body).json()
    again = deliver(workflow, body, x_slack_retry_num="1", x_slack_retry_reason="http_timeout")
    assert again.json() == {"execution_id": first["execution_id"], "duplicate": True}


def test_an_event_outside_trigger_events_is_answered_200_and_runs_nothing():
    workflow = hook_workflow("slack", events=["reaction_added"])
    response = deliver(workflow, example("slack/app-mention.json"))
    assert response.status_code == 200
    assert "'app_mention' is not in trigger.events" in response.json()["reason"]
    assert AutomationExecution.objects.count() == 0
