"""Verify makes each platform's smallest real call against stubs answering the documented shapes,
records the result and announces a failure."""

import json

import pytest
from werkzeug import Response

from integrations.hooks import CONNECTION_FAILED, CONNECTION_VERIFIED, hooks
from integrations.models import IntegrationConnection
from integrations.services import connection_verify
from integrations.signing import signature_verify
from tests.factories import ConnectionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]

BOT_TOKEN = "123456:AAH-good-token"


def telegram(httpserver, **config) -> IntegrationConnection:
    return ConnectionFactory(
        platform="telegram",
        webhook_url="",
        credentials={"bot_token": BOT_TOKEN},
        config={"api_base_url": httpserver.url_for("/"), **config},
    )


def test_telegram_with_a_good_token_is_verified(httpserver):
    httpserver.expect_request(f"/bot{BOT_TOKEN}/getMe").respond_with_json(
        {"ok": True, "result": {"id": 1, "is_bot": True, "username": "wfo_bot"}}
    )
    connection = telegram(httpserver)
    outcome = connection_verify(connection=connection)
    assert outcome["is_verified"] is True
    assert "@wfo_bot" in outcome["detail"]
    assert outcome["latency_ms"] >= 0
    connection.refresh_from_db()
    assert connection.is_verified and connection.last_verified_at and connection.last_error == ""


def test_telegram_with_a_bad_token_is_not_verified_and_says_why(httpserver):
    httpserver.expect_request(f"/bot{BOT_TOKEN}/getMe").respond_with_json(
        {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
    )
    connection = telegram(httpserver)
    outcome = connection_verify(connection=connection)
    assert outcome["is_verified"] is False
    assert outcome["detail"] == "getMe: Telegram error 401: Unauthorized"
    connection.refresh_from_db()
    assert not connection.is_verified
    assert connection.last_error == outcome["detail"]
    assert BOT_TOKEN not in connection.last_error


def test_telegram_with_a_chat_the_bot_cannot_see_is_not_verified(httpserver):
    httpserver.expect_request(f"/bot{BOT_TOKEN}/getMe").respond_with_json(
        {"ok": True, "result": {"id": 1, "username": "wfo_bot"}}
    )
    httpserver.expect_request(f"/bot{BOT_TOKEN}/getChat").respond_with_json(
        {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}, status=400
    )
    outcome = connection_verify(connection=telegram(httpserver, chat_id=-100123))
    assert outcome["is_verified"] is False
    assert "chat not found" in outcome["detail"]
    request, _ = httpserver.log[1]
    assert request.get_json() == {"chat_id": -100123}


def slack_token(httpserver) -> IntegrationConnection:
    return ConnectionFactory(
        platform="slack",
        webhook_url="",
        credentials={"token": "xoxb-slack-token"},
        config={"api_base_url": httpserver.url_for("/api")},
    )


def test_slack_auth_test_answering_200_with_ok_false_is_not_verified(httpserver):
    httpserver.expect_request("/api/auth.test", method="POST").respond_with_json(
        {"ok": False, "error": "invalid_auth"}
    )
    outcome = connection_verify(connection=slack_token(httpserver))
    assert outcome == {
        "is_verified": False,
        "detail": "Slack error: invalid_auth",
        "latency_ms": outcome["latency_ms"],
    }
    request, _ = httpserver.log[0]
    assert request.headers["Authorization"] == "Bearer xoxb-slack-token"


def test_slack_auth_test_with_ok_true_is_verified(httpserver):
    httpserver.expect_request("/api/auth.test", method="POST").respond_with_json(
        {"ok": True, "url": "https://acme.slack.com/", "team": "Acme", "user": "wfo",
         "team_id": "T1", "user_id": "U1"}
    )  # fmt: skip
    outcome = connection_verify(connection=slack_token(httpserver))
    assert outcome["is_verified"] is True
    assert outcome["detail"] == "authenticated as wfo in Acme"


def test_a_slack_incoming_webhook_answering_200_ok_is_verified(httpserver):
    httpserver.expect_request("/services/T1/B1/X1", method="POST").respond_with_data("ok")
    connection = ConnectionFactory(
        platform="slack", webhook_url=httpserver.url_for("/services/T1/B1/X1")
    )
    assert connection_verify(connection=connection)["is_verified"] is True
    request, _ = httpserver.log[0]
    assert "text" in request.get_json()


def test_a_slack_webhook_answering_410_is_not_verified_with_its_text_code(httpserver):
    httpserver.expect_request("/services/T1/B1/X1").respond_with_data(
        "channel_is_archived", status=410
    )
    connection = ConnectionFactory(
        platform="slack", webhook_url=httpserver.url_for("/services/T1/B1/X1")
    )
    outcome = connection_verify(connection=connection)
    assert outcome["is_verified"] is False
    assert outcome["detail"] == "Slack answered 410: channel_is_archived"


def github(httpserver, **config) -> IntegrationConnection:
    return ConnectionFactory(
        platform="github",
        webhook_url="",
        credentials={"token": "ghp_token"},
        config={"api_base_url": httpserver.url_for("/"), **config},
    )


def test_github_checks_the_token_and_push_permission_on_the_repo(httpserver):
    httpserver.expect_request("/user").respond_with_json({"login": "octo", "id": 1})
    httpserver.expect_request("/repos/acme/site").respond_with_json(
        {"full_name": "acme/site", "permissions": {"pull": True, "push": True}}
    )
    outcome = connection_verify(connection=github(httpserver, repo="acme/site"))
    assert outcome["is_verified"] is True
    assert outcome["detail"] == "authenticated as octo, can push to acme/site"
    request, _ = httpserver.log[0]
    assert request.headers["Authorization"] == "Bearer ghp_token"
    assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"


def test_github_without_push_permission_is_not_verified(httpserver):
    httpserver.expect_request("/user").respond_with_json({"login": "octo"})
    httpserver.expect_request("/repos/acme/site").respond_with_json(
        {"permissions": {"pull": True, "push": False}}
    )
    outcome = connection_verify(connection=github(httpserver, repo="acme/site"))
    assert outcome == {**outcome, "is_verified": False, "detail": "octo cannot push to acme/site"}


def test_github_with_a_bad_token_is_not_verified(httpserver):
    httpserver.expect_request("/user").respond_with_json(
        {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
        status=401,
    )
    outcome = connection_verify(connection=github(httpserver))
    assert outcome["detail"] == "GET /user: GitHub answered 401: Bad credentials"


@pytest.mark.parametrize("platform", ["webhook", "n8n", "zapier"])
def test_a_webhook_is_verified_by_a_signed_ping_answered_2xx(httpserver, platform):
    httpserver.expect_request("/hook", method="POST").respond_with_json(
        {"message": "Workflow was started"}
    )
    connection = ConnectionFactory(
        platform=platform,
        webhook_url=httpserver.url_for("/hook"),
        credentials={"signing_secret": "whsec-1"},
    )
    assert connection_verify(connection=connection)["is_verified"] is True
    request, _ = httpserver.log[0]
    assert json.loads(request.get_data()) == {"event": "ping"}
    header = request.headers["X-Signature"]
    now = int(header.split(",")[0].removeprefix("t="))
    assert signature_verify(header, request.get_data(), ["whsec-1"], now=now)


def test_a_webhook_answering_404_is_not_verified(httpserver):
    httpserver.expect_request("/hook").respond_with_data("not registered", status=404)
    connection = ConnectionFactory(platform="n8n", webhook_url=httpserver.url_for("/hook"))
    outcome = connection_verify(connection=connection)
    assert outcome["is_verified"] is False
    assert outcome["detail"] == "answered 404: not registered"


def test_a_refused_address_is_not_verified_and_says_so(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    connection = ConnectionFactory(platform="webhook", webhook_url="http://169.254.169.254/x")
    outcome = connection_verify(connection=connection)
    assert outcome["is_verified"] is False
    assert outcome["detail"].startswith("refused: 169.254.169.254 is a link-local address")


@pytest.fixture
def events():
    seen: list[tuple[str, dict]] = []

    def failed(**payload):
        seen.append((CONNECTION_FAILED, payload))

    def verified(**payload):
        seen.append((CONNECTION_VERIFIED, payload))

    hooks.subscribe(CONNECTION_FAILED, failed)
    hooks.subscribe(CONNECTION_VERIFIED, verified)
    yield seen
    hooks.unsubscribe(CONNECTION_FAILED, failed)
    hooks.unsubscribe(CONNECTION_VERIFIED, verified)


def test_a_failed_verify_emits_connection_failed_after_commit(
    httpserver, events, django_capture_on_commit_callbacks
):
    httpserver.expect_request("/hook").respond_with_data("down", status=503)
    connection = ConnectionFactory(platform="webhook", webhook_url=httpserver.url_for("/hook"))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        connection_verify(connection=connection)
    assert events == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert events == [
        (
            CONNECTION_FAILED,
            {"connection_id": connection.pk, "platform": "webhook",
             "detail": "answered 503: down"},
        )
    ]  # fmt: skip


def test_a_successful_verify_emits_connection_verified(
    httpserver, events, django_capture_on_commit_callbacks
):
    httpserver.expect_request("/hook").respond_with_response(Response(status=204))
    connection = ConnectionFactory(platform="webhook", webhook_url=httpserver.url_for("/hook"))
    with django_capture_on_commit_callbacks(execute=True):
        connection_verify(connection=connection)
    assert [name for name, _ in events] == [CONNECTION_VERIFIED]
