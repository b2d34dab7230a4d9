"""Each alert channel on its own: where the message goes and how failures are classified."""

import socket

import pytest
from aiosmtpd.controller import Controller
from django.core.exceptions import ImproperlyConfigured

from alerts.channel_registry import CHANNELS, UnknownChannel, channel_get
from alerts.channels.base import Message, Target
from alerts.models import AutomationAlert, Notification
from core.email_url import email_url_settings
from tests.factories import ConnectionFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]

MESSAGE = Message(
    "Execution #7 failed", title="Failed: workflow 'Import'", severity="critical", url="https://x/7"
)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_model_offers_exactly_the_registered_channels():
    choices = [name for name, _ in AutomationAlert._meta.get_field("channel").choices]
    assert choices == list(CHANNELS)
    assert set(CHANNELS) == {"slack", "telegram", "email", "webhook", "in_app", "apprise"}
    with pytest.raises(UnknownChannel):
        channel_get("pager")


def test_in_app_without_recipients_notifies_every_active_staff_user():
    staff = UserFactory(username="boss", is_staff=True)
    UserFactory(username="gone", is_staff=True, is_active=False)
    UserFactory(username="reader")
    result = channel_get("in_app").send(Target(), MESSAGE)
    assert result.ok
    assert list(Notification.objects.values_list("user__username", flat=True)) == [staff.username]
    notification = Notification.objects.get()
    assert (notification.title, notification.severity) == (MESSAGE.title, "critical")


def test_email_without_a_connection_uses_djangos_email_backend(mailoutbox, settings):
    settings.DEFAULT_FROM_EMAIL = "alerts@example.com"
    result = channel_get("email").send(Target(recipients=["ops@example.com"]), MESSAGE)
    assert result.ok
    mail = mailoutbox[0]
    assert (mail.subject, mail.from_email, mail.to) == (
        MESSAGE.title,
        "alerts@example.com",
        ["ops@example.com"],
    )
    assert "Execution #7 failed" in mail.body
    assert "https://x/7" in mail.body


def test_email_to_an_unreachable_mail_server_is_retryable(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    settings.EMAIL_USE_TLS = False
    result = channel_get("email").send(Target(recipients=["ops@example.com"]), MESSAGE)
    assert (result.ok, result.retryable) == (False, True)


def test_email_with_an_smtp_connection_goes_to_that_server():
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        connection = ConnectionFactory(
            platform="smtp",
            webhook_url="",
            config={"host": "127.0.0.1", "port": port, "use_tls": False,
                    "from_email": "alerts@example.com"},
        )  # fmt: skip
        target = Target(connection=connection, recipients=["ops@example.com"])
        result = channel_get("email").send(target, MESSAGE)
    finally:
        controller.stop()
    assert result.ok, result.detail
    assert len(inbox.messages) == 1
    assert b"To: ops@example.com" in inbox.messages[0]
    assert b"Subject: Failed: workflow 'Import'" in inbox.messages[0]


def test_telegram_sends_to_the_connections_chat(httpserver):
    httpserver.expect_request("/bot123:abc/sendMessage", method="POST").respond_with_json(
        {"ok": True, "result": {"message_id": 42}}
    )
    connection = ConnectionFactory(
        platform="telegram",
        webhook_url="",
        credentials={"bot_token": "123:abc"},
        config={"chat_id": -100, "api_base_url": httpserver.url_for("/").rstrip("/")},
    )
    result = channel_get("telegram").send(Target(connection=connection), MESSAGE)
    assert result.ok, result.detail
    body = httpserver.log[0][0].get_json()
    assert body["chat_id"] == -100
    assert "Execution #7 failed" in body["text"]


def test_a_platform_channel_refuses_to_send_through_an_inactive_connection(httpserver):
    connection = ConnectionFactory(
        platform="slack", webhook_url=httpserver.url_for("/s"), is_active=False
    )
    result = channel_get("slack").send(Target(connection=connection), MESSAGE)
    assert (result.ok, result.retryable) == (False, False)
    assert "not active" in result.detail
    assert httpserver.log == []


def test_apprise_sends_to_an_apprise_json_url(httpserver):
    httpserver.expect_request("/notify", method="POST").respond_with_data("", status=200)
    url = httpserver.url_for("/notify").replace("http://", "json://")
    connection = ConnectionFactory(platform="apprise", webhook_url="", credentials={"url": url})
    result = channel_get("apprise").send(Target(connection=connection), MESSAGE)
    assert result.ok, result.detail
    body = httpserver.log[0][0].get_json()
    assert body["title"] == MESSAGE.title


def test_email_url_sets_the_email_settings():
    assert email_url_settings("smtp://mailer:p%40ss@mail.example.com:2525?tls=false") == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "mail.example.com",
        "EMAIL_PORT": 2525,
        "EMAIL_HOST_USER": "mailer",
        "EMAIL_HOST_PASSWORD": "p@ss",
        "EMAIL_USE_SSL": False,
        "EMAIL_USE_TLS": False,
    }
    assert email_url_settings("smtps://mail.example.com")["EMAIL_PORT"] == 465
    with pytest.raises(ImproperlyConfigured):
        email_url_settings("pop3://mail.example.com")
