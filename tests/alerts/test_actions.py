"""The notify and share actions, run in-process by the engine against local stubs."""

import pytest
from rest_framework import serializers
from werkzeug import Response

from alerts.models import Notification
from tests.alerts.conftest import SIGNING_SECRET, expected_signature
from tests.factories import ArticleFactory, ConnectionFactory, UserFactory, WorkflowFactory
from versioning.selectors import article_data
from workflows.actions.registry import action_get
from workflows.engine import execution_run
from workflows.models import AutomationExecution, StepEffect
from workflows.services.executions import execution_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]

BASE = "/api/workflow-orchestration"


def run(actions, payload=None, *, context=None) -> AutomationExecution:
    workflow = WorkflowFactory(name="Share news", actions=actions)
    execution, _ = execution_create(
        workflow=workflow, trigger_type="manual", payload=payload or {}, context=context
    )
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    return execution


def step(execution, step_id="go"):
    return execution.steps.get(step_id=step_id)


def slack(httpserver, path="/slack"):
    return ConnectionFactory(platform="slack", webhook_url=httpserver.url_for(path))


def hook(httpserver, path="/hook", **kwargs):
    return ConnectionFactory(platform="webhook", webhook_url=httpserver.url_for(path), **kwargs)


# --- notify ---------------------------------------------------------------------------------------


def test_notify_in_app_notifies_the_named_user_with_the_rendered_message():
    editor = UserFactory(username="editor")
    execution = run(
        [
            {
                "id": "go",
                "type": "notify",
                "params": {
                    "channel": "in_app",
                    "recipients": ["editor"],
                    "subject": "Import of {{ trigger.feed }}",
                    "message": "{{ trigger.count }} new items",
                    "severity": "warning",
                },
            }
        ],
        {"feed": "news", "count": 3},
    )
    assert execution.status == "completed", execution.error_message
    assert step(execution).output == {
        "channel": "in_app",
        "delivered": True,
        "detail": "notified 1 user(s)",
    }
    notification = Notification.objects.get(user=editor)
    assert (notification.title, notification.body) == ("Import of news", "3 new items")
    assert notification.link.endswith(f"/dashboard/executions/{execution.pk}/")


def test_notify_slack_posts_to_the_stub(httpserver):
    httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
    connection = slack(httpserver)
    execution = run(
        [
            {
                "id": "go",
                "type": "notify",
                "params": {"channel": "slack", "connection": connection.pk, "message": "Done"},
            }
        ]
    )
    assert step(execution).output["delivered"] is True
    assert "Done" in httpserver.log[0][0].get_json()["text"]


def test_notify_email_sends_through_the_email_backend(mailoutbox):
    execution = run(
        [
            {
                "id": "go",
                "type": "notify",
                "params": {
                    "channel": "email",
                    "recipients": ["ops@example.com"],
                    "subject": "Nightly report",
                    "message": "All good",
                },
            }
        ]
    )
    assert step(execution).output["delivered"] is True
    assert [mail.subject for mail in mailoutbox] == ["Nightly report"]
    assert mailoutbox[0].to == ["ops@example.com"]


def test_notify_retries_a_503_and_fails_on_a_404(httpserver):
    answers = iter([Response("busy", 503), Response("no_service", 404)])
    httpserver.expect_request("/slack").respond_with_handler(lambda request: next(answers))
    connection = slack(httpserver)
    execution = run(
        [
            {
                "id": "go",
                "type": "notify",
                "params": {"channel": "slack", "connection": connection.pk, "message": "x"},
                "retry": {"max_attempts": 3, "delay_s": 0},
            }
        ]
    )
    # The 503 is retryable: the step waits for its retry.
    assert (execution.status, step(execution).status) == ("queued", "retrying")
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    assert execution.status == "failed"
    failed = step(execution)
    assert failed.attempts == 2  # the 404 is permanent: no third try
    assert failed.output["response"]["delivered"] is False
    assert failed.error_message == "notify via slack failed: answered 404"
    assert "no_service" in failed.output["response"]["detail"]


def test_notify_params_name_an_unknown_connection():
    with pytest.raises(serializers.ValidationError) as caught:
        action_get("notify").validate({"channel": "slack", "connection": 4242, "message": "x"})
    assert caught.value.detail == {"connection": ["Unknown connection 4242."]}


def test_notify_params_refuse_a_connection_of_another_platform(httpserver):
    connection = hook(httpserver)
    with pytest.raises(serializers.ValidationError) as caught:
        action_get("notify").validate(
            {"channel": "slack", "connection": connection.pk, "message": "x"}
        )
    assert "webhook connection" in str(caught.value.detail["connection"][0])


def test_a_workflow_with_a_notify_step_naming_an_unknown_connection_is_refused(api):
    response = api.post(
        f"{BASE}/workflows",
        {
            "name": "Bad",
            "actions": [
                {
                    "id": "go",
                    "type": "notify",
                    "params": {"channel": "telegram", "connection": 777, "message": "x"},
                }
            ],
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["actions"]["0"]["params"]["connection"] == ["Unknown connection 777."]


# --- share ----------------------------------------------------------------------------------------


def test_share_posts_the_articles_title_excerpt_and_link_to_each_connection(httpserver, settings):
    settings.SITE_URL = "https://blog.example.com"
    httpserver.expect_request("/slack").respond_with_data("ok")
    httpserver.expect_request("/hook").respond_with_data("", status=202)
    a, b = slack(httpserver), hook(httpserver, credentials={"signing_secret": SIGNING_SECRET})
    article = ArticleFactory(title="Cats", slug="cats", excerpt="On mats.")
    execution = run(
        [{"id": "go", "type": "share", "params": {"connections": [a.pk, b.pk]}}],
        context={"article": article_data(article)},
    )
    assert execution.status == "completed", execution.error_message
    results = step(execution).output["results"]
    assert results == {
        str(a.pk): {"ok": True, "status": 200, "detail": "ok"},
        str(b.pk): {"ok": True, "status": 202, "detail": "accepted (202)"},
    }
    slack_text = next(r for r, _ in httpserver.log if r.path == "/slack").get_json()["text"]
    assert "New: Cats" in slack_text
    assert "On mats." in slack_text
    assert "https://blog.example.com/articles/cats/" in slack_text
    webhook = next(r for r, _ in httpserver.log if r.path == "/hook")
    given, computed = expected_signature(
        SIGNING_SECRET, webhook.headers["X-Signature"], webhook.data
    )
    assert given == computed
    data = webhook.get_json()["data"]
    assert data["article"]["id"] == article.pk
    assert data["idempotency_key"] == f"{execution.pk}-go-{b.pk}"


def test_share_renders_its_message_from_params_without_an_article(httpserver):
    httpserver.expect_request("/slack").respond_with_data("ok")
    connection = slack(httpserver)
    execution = run(
        [
            {
                "id": "go",
                "type": "share",
                "params": {"connections": [connection.pk], "message": "Hello {{ trigger.who }}"},
            }
        ],
        {"who": "world"},
    )
    assert execution.status == "completed", execution.error_message
    assert httpserver.log[0][0].get_json()["text"] == "Hello world"


def test_share_loads_the_article_named_by_article_id(httpserver):
    httpserver.expect_request("/slack").respond_with_data("ok")
    connection = slack(httpserver)
    article = ArticleFactory(title="Dogs")
    execution = run(
        [
            {
                "id": "go",
                "type": "share",
                "params": {"connections": [connection.pk], "article_id": article.pk},
            }
        ]
    )
    assert execution.status == "completed", execution.error_message
    assert "New: Dogs" in httpserver.log[0][0].get_json()["text"]


def test_share_with_nothing_to_say_fails_clearly(httpserver):
    connection = slack(httpserver)
    execution = run([{"id": "go", "type": "share", "params": {"connections": [connection.pk]}}])
    assert execution.status == "failed"
    assert "Nothing to share" in step(execution).error_message
    assert httpserver.log == []


def test_a_partial_share_failure_fails_the_step(httpserver):
    httpserver.expect_request("/slack").respond_with_data("ok")
    httpserver.expect_request("/hook").respond_with_data("gone", status=410)
    a, b = slack(httpserver), hook(httpserver)
    execution = run(
        [
            {
                "id": "go",
                "type": "share",
                "params": {"connections": [a.pk, b.pk], "message": "News"},
            }
        ]
    )
    assert execution.status == "failed"
    failed = step(execution)
    assert f"share failed for 1 of 2 connections ({b.pk}: answered 410" in failed.error_message
    results = failed.output["response"]["results"]
    assert (results[str(a.pk)]["ok"], results[str(b.pk)]["ok"]) == (True, False)
    assert results[str(b.pk)]["status"] == 410


def test_allow_partial_completes_the_step_with_the_failure_reported(httpserver):
    httpserver.expect_request("/slack").respond_with_data("ok")
    httpserver.expect_request("/hook").respond_with_data("gone", status=410)
    a, b = slack(httpserver), hook(httpserver)
    execution = run(
        [
            {
                "id": "go",
                "type": "share",
                "params": {"connections": [a.pk, b.pk], "message": "News", "allow_partial": True},
            }
        ]
    )
    assert execution.status == "completed", execution.error_message
    output = step(execution).output
    assert (output["shared"], output["failed"]) == (1, 1)
    assert output["results"][str(b.pk)]["ok"] is False


def test_allow_partial_still_fails_when_no_connection_took_the_post(httpserver):
    httpserver.expect_request("/hook").respond_with_data("gone", status=410)
    connection = hook(httpserver)
    execution = run(
        [
            {
                "id": "go",
                "type": "share",
                "params": {"connections": [connection.pk], "message": "x", "allow_partial": True},
            }
        ]
    )
    assert execution.status == "failed"


def test_a_retried_share_posts_to_each_connection_once(httpserver):
    httpserver.expect_request("/slack").respond_with_data("ok")
    answers = iter([Response("busy", 503), Response("", 200)])
    httpserver.expect_request("/hook").respond_with_handler(lambda request: next(answers))
    a, b = slack(httpserver), hook(httpserver)
    execution = run(
        [
            {
                "id": "go",
                "type": "share",
                "params": {"connections": [a.pk, b.pk, a.pk], "message": "News"},
                "retry": {"max_attempts": 2, "delay_s": 0},
            }
        ]
    )
    assert step(execution).status == "retrying"
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    assert execution.status == "completed", execution.error_message
    paths = [request.path for request, _ in httpserver.log]
    assert paths.count("/slack") == 1  # listed twice, posted once, not re-posted on the retry
    assert paths.count("/hook") == 2  # the 503, then the retry
    hook_keys = {
        r.get_json()["data"]["idempotency_key"] for r, _ in httpserver.log if r.path == "/hook"
    }
    assert hook_keys == {f"{execution.pk}-go-{b.pk}"}
    assert StepEffect.objects.count() == 2


def test_share_params_name_unknown_connections():
    with pytest.raises(serializers.ValidationError) as caught:
        action_get("share").validate({"connections": [9001, 9002], "message": "x"})
    assert caught.value.detail == {"connections": ["Unknown connections: 9001, 9002."]}


def test_share_params_refuse_platforms_that_cannot_share():
    github = ConnectionFactory(platform="github", webhook_url="", credentials={"token": "t"})
    with pytest.raises(serializers.ValidationError) as caught:
        action_get("share").validate({"connections": [github.pk], "message": "x"})
    assert f"{github.pk} (github)" in str(caught.value.detail["connections"][0])
