"""Each platform: what it requires, and how it sends (against stubs with the documented shapes)."""

import json
import socket

import pytest
from rest_framework.exceptions import ValidationError

from integrations.platforms import apprise as apprise_platform
from integrations.platforms.base import Message
from integrations.platforms.registry import PLATFORMS, UnknownPlatform, platform_get
from integrations.signing import signature_verify
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.usefixtures("allow_loopback")

MESSAGE = Message("Step fetch failed: HTTP 500", title="Workflow failed", url="http://app/e/7")


def errors_of(platform: str, credentials=None, webhook_url="", config=None) -> dict:
    with pytest.raises(ValidationError) as caught:
        platform_get(platform).validate(credentials or {}, webhook_url, config or {})
    return caught.value.detail  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("slack", {"webhook_url"}),
        ("telegram", {"credentials"}),
        ("github", {"credentials"}),
        ("webhook", {"webhook_url"}),
        ("n8n", {"webhook_url"}),
        ("zapier", {"webhook_url"}),
        ("smtp", {"config"}),
        ("apprise", {"credentials"}),
    ],
)
def test_each_platform_names_the_fields_it_requires(platform, expected):
    assert set(errors_of(platform)) == expected


def test_errors_name_the_nested_field():
    assert errors_of("telegram") == {"credentials": {"bot_token": ["Required."]}}
    assert errors_of("smtp", config={"port": "x"})["config"] == {
        "host": ["Required."],
        "port": ["Must be a port number (1-65535)."],
    }
    assert errors_of("github", {"token": "t"}, config={"repo": "no-slash"}) == {
        "config": {"repo": ["Must be owner/name."]}
    }


def test_urls_must_be_http_or_https():
    detail = errors_of("slack", webhook_url="ftp://x.example/", config={"api_base_url": "x"})
    assert detail["webhook_url"] == ["Enter an http or https URL."]
    assert detail["config"] == {"api_base_url": ["Enter an http or https URL."]}


def test_valid_settings_pass():
    platform_get("slack").validate({}, "https://hooks.slack.com/services/T/B/X", {})
    platform_get("slack").validate({"token": "xoxb"}, "", {"channel": "#ops"})
    platform_get("telegram").validate({"bot_token": "1:a"}, "", {"chat_id": -100})
    smtp_config = {"host": "smtp.example.com", "port": 587, "username": "u"}
    platform_get("smtp").validate({"password": "p"}, "", smtp_config)


def test_the_registry_lists_every_platform_and_rejects_unknown_ones():
    assert list(PLATFORMS) == [
        "slack", "telegram", "github", "n8n", "zapier", "webhook", "smtp", "apprise"
    ]  # fmt: skip
    with pytest.raises(UnknownPlatform):
        platform_get("fax")


@pytest.mark.django_db
def test_slack_webhook_send_posts_the_text(httpserver):
    httpserver.expect_request("/services/T/B/X", method="POST").respond_with_data("ok")
    connection = ConnectionFactory(
        platform="slack", webhook_url=httpserver.url_for("/services/T/B/X")
    )
    result = platform_get("slack").send(connection, MESSAGE)
    assert (result.ok, result.status) == (True, 200)
    request, _ = httpserver.log[0]
    assert request.get_json() == {
        "text": "*Workflow failed*\nStep fetch failed: HTTP 500\n<http://app/e/7>"
    }


@pytest.mark.django_db
def test_slack_webhook_500_is_a_retryable_failure(httpserver):
    httpserver.expect_request("/hook").respond_with_data("rollup_error", status=500)
    connection = ConnectionFactory(platform="slack", webhook_url=httpserver.url_for("/hook"))
    result = platform_get("slack").send(connection, MESSAGE)
    assert (result.ok, result.retryable, result.detail) == (
        False, True, "Slack answered 500: rollup_error"
    )  # fmt: skip


@pytest.mark.django_db
def test_slack_token_send_uses_chat_post_message_and_checks_ok(httpserver):
    httpserver.expect_request("/api/chat.postMessage").respond_with_json(
        {"ok": False, "error": "channel_not_found"}
    )
    connection = ConnectionFactory(
        platform="slack", webhook_url="", credentials={"token": "xoxb-1"},
        config={"api_base_url": httpserver.url_for("/api"), "channel": "#ops"},
    )  # fmt: skip
    result = platform_get("slack").send(connection, MESSAGE)
    assert (result.ok, result.retryable, result.detail) == (
        False, False, "Slack error: channel_not_found"
    )  # fmt: skip
    request, _ = httpserver.log[0]
    assert request.get_json()["channel"] == "#ops"


def telegram(httpserver):
    return ConnectionFactory(
        platform="telegram", webhook_url="", credentials={"bot_token": "42:tok"},
        config={"api_base_url": httpserver.url_for("/"), "chat_id": 99},
    )  # fmt: skip


@pytest.mark.django_db
def test_telegram_send_message_to_the_configured_chat(httpserver):
    httpserver.expect_request("/bot42:tok/sendMessage").respond_with_json(
        {"ok": True, "result": {"message_id": 501, "chat": {"id": 99}}}
    )
    result = platform_get("telegram").send(telegram(httpserver), MESSAGE)
    assert (result.ok, result.detail) == (True, "sent message 501")
    request, _ = httpserver.log[0]
    assert request.get_json() == {"chat_id": 99, "text": MESSAGE.plain()}


@pytest.mark.django_db
def test_telegram_429_is_retryable_and_says_when(httpserver):
    httpserver.expect_request("/bot42:tok/sendMessage").respond_with_json(
        {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 5",
         "parameters": {"retry_after": 5}}, status=429,
    )  # fmt: skip
    result = platform_get("telegram").send(telegram(httpserver), MESSAGE)
    assert result.ok is False and result.retryable is True and result.status == 429
    assert result.detail.endswith("(retry after 5 s)")


@pytest.mark.django_db
def test_telegram_blocked_bot_is_a_permanent_failure(httpserver):
    httpserver.expect_request("/bot42:tok/sendMessage").respond_with_json(
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
        status=403,
    )
    result = platform_get("telegram").send(telegram(httpserver), MESSAGE)
    assert (result.ok, result.retryable) == (False, False)
    assert "bot was blocked" in result.detail


@pytest.mark.django_db
def test_github_cannot_send_messages():
    connection = ConnectionFactory(
        platform="github", webhook_url="", credentials={"token": "ghp-token"}
    )
    result = platform_get("github").send(connection, MESSAGE)
    assert (result.ok, result.retryable) == (False, False)
    assert "cannot send messages" in result.detail


@pytest.mark.django_db
def test_webhook_send_posts_signed_json(httpserver):
    httpserver.expect_request("/in", method="POST").respond_with_json({"status": "success"})
    connection = ConnectionFactory(
        platform="zapier", webhook_url=httpserver.url_for("/in"),
        credentials={"signing_secret": "zap-secret"},
    )  # fmt: skip
    message = Message("hello", title="T", data={"execution_id": 7})
    result = platform_get("zapier").send(connection, message)
    assert result.ok
    request, _ = httpserver.log[0]
    body = request.get_data()
    assert json.loads(body) == {
        "event": "message",
        "title": "T",
        "text": "hello",
        "severity": "info",
        "url": "",
        "data": {"execution_id": 7},
    }
    timestamp = int(request.headers["X-Signature"].split(",")[0][2:])
    assert signature_verify(request.headers["X-Signature"], body, ["zap-secret"], now=timestamp)


@pytest.mark.django_db
def test_an_unsigned_webhook_sends_no_signature_header(httpserver):
    httpserver.expect_request("/in").respond_with_data("", status=204)
    connection = ConnectionFactory(platform="webhook", webhook_url=httpserver.url_for("/in"))
    assert platform_get("webhook").send(connection, MESSAGE).ok
    request, _ = httpserver.log[0]
    assert "X-Signature" not in request.headers


@pytest.mark.django_db
def test_send_details_never_carry_the_connections_secrets(httpserver):
    secret_url = httpserver.url_for("/in/secret-path-3f9a")
    httpserver.expect_request("/in/secret-path-3f9a").respond_with_data(
        f"no such hook: {secret_url}", status=404
    )
    connection = ConnectionFactory(platform="webhook", webhook_url=secret_url)
    result = platform_get("webhook").send(connection, MESSAGE)
    assert result.detail == "answered 404: no such hook: [redacted]"


@pytest.mark.django_db
def test_apprise_sends_through_a_json_url(httpserver):
    httpserver.expect_request("/notify", method="POST").respond_with_json({})
    port = httpserver.port
    connection = ConnectionFactory(
        platform="apprise", webhook_url="", credentials={"url": f"json://127.0.0.1:{port}/notify"}
    )
    result = platform_get("apprise").send(connection, MESSAGE)
    assert result.ok, result.detail
    request, _ = httpserver.log[0]
    assert request.get_json()["title"] == "Workflow failed"


@pytest.mark.django_db
def test_apprise_refuses_a_private_host_without_connecting(settings, httpserver):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    connection = ConnectionFactory(
        platform="apprise", webhook_url="",
        credentials={"url": f"json://127.0.0.1:{httpserver.port}/notify"},
    )  # fmt: skip
    result = platform_get("apprise").verify(connection)
    assert result.ok is False and result.detail.startswith("refused:")
    assert httpserver.log == []


@pytest.mark.django_db
def test_apprise_not_installed_is_a_clear_failure(monkeypatch):
    monkeypatch.setattr(apprise_platform, "apprise_installed", lambda: False)
    connection = ConnectionFactory(platform="apprise", webhook_url="", credentials={"url": "x"})
    result = platform_get("apprise").verify(connection)
    assert (result.ok, result.detail) == (False, apprise_platform.NOT_INSTALLED)


def test_apprise_rejects_a_url_it_does_not_know():
    assert errors_of("apprise", {"url": "nonsense://x"}) == {
        "credentials": {"url": ["Apprise does not recognise this URL."]}
    }


@pytest.mark.parametrize(
    ("platform", "credentials", "config", "path", "message"),
    [
        ("webhook", {"secret": "s" * 20}, {}, ("credentials", "secret"),
         "Unknown credentials key; use signing_secret."),
        ("telegram", {"botToken": "1:x"}, {}, ("credentials", "botToken"),
         "Unknown credentials key; use bot_token."),
        ("telegram", {"bot_token": "1:x"}, {"chatId": 7}, ("config", "chatId"),
         "Unknown config key; use chat_id."),
        ("smtp", {}, {"host": "mail.example.com", "useTls": True}, ("config", "useTls"),
         "Unknown config key; use use_tls."),
        ("github", {"token": "t"}, {"colour": "red"}, ("config", "colour"),
         "Unknown config key."),
        ("webhook", {}, {"api_base_url": "https://x.example"}, ("config", "api_base_url"),
         "Unknown config key."),
    ],
)  # fmt: skip
def test_keys_a_platform_does_not_read_are_refused_naming_the_one_to_use(
    platform, credentials, config, path, message
):
    detail = errors_of(platform, credentials, webhook_url="https://x.example/h", config=config)

    assert detail[path[0]][path[1]] == [message]


def test_http_auth_keys_are_known_on_every_platform():
    platform_get("webhook").validate(
        {"token": "t", "username": "u", "password": "p"}, "https://x.example/h",
        {"auth_header": "X-Api-Key"},
    )  # fmt: skip


def test_apprise_refuses_a_public_service_whose_name_resolves_to_loopback(
    settings, monkeypatch, db
):
    """DNS rebinding: Telegram's API name answers with a loopback address. Nothing is checked
    before Apprise resolves it; the connect itself is refused (integrations.http
    sockets_guarded), so nothing reaches the listener."""
    settings.OUTBOUND_ALLOWED_HOSTS = []
    real_getaddrinfo = socket.getaddrinfo
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.setblocking(False)
        port = listener.getsockname()[1]

        def rebound(host, port_, *args, **kwargs):
            if host == "api.telegram.org":
                return real_getaddrinfo("127.0.0.1", port, *args, **kwargs)
            return real_getaddrinfo(host, port_, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", rebound)
        connection = ConnectionFactory(
            platform="apprise", webhook_url="",
            credentials={"url": "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/12345/"},
        )  # fmt: skip

        result = platform_get("apprise").send(connection, MESSAGE)

        assert not result.ok
        assert "api.telegram.org resolves to 127.0.0.1" in result.detail
        with pytest.raises(BlockingIOError):
            listener.accept()
