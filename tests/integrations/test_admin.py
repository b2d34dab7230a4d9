"""Connections in the admin: secrets write-only and never rendered; the Verify action."""

import pytest

from integrations.models import IntegrationConnection
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

CANARY = "canary-61f0ab2e-admin"
ADMIN = "/admin/integrations/integrationconnection/"


def form_data(**extra) -> dict:
    return {
        "name": "Bot",
        "platform": "telegram",
        "connection_type": "",
        "config": '{"chat_id": 5}',
        "is_active": "on",
        "new_credentials": "",
        "new_webhook_url": "",
        **extra,
    }


def test_the_list_and_change_pages_never_render_secrets(admin_client):
    connection = ConnectionFactory(
        platform="slack", webhook_url=f"https://hooks.slack.com/{CANARY}",
        credentials={"token": CANARY},
    )  # fmt: skip
    listing = admin_client.get(ADMIN)
    change = admin_client.get(f"{ADMIN}{connection.pk}/change/")
    assert listing.status_code == change.status_code == 200
    for page in (listing, change):
        assert CANARY not in page.content.decode()
    html = change.content.decode()
    assert 'type="password" name="new_credentials"' in html
    assert "credentials: token; webhook URL: set" in html


def test_adding_a_connection_stores_its_secrets_encrypted(admin_client):
    response = admin_client.post(
        f"{ADMIN}add/", form_data(new_credentials=f'{{"bot_token": "{CANARY}"}}')
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    stored = IntegrationConnection.objects.get()
    assert stored.credentials == {"bot_token": CANARY}
    assert stored.config == {"chat_id": 5}


def test_saving_with_empty_secret_inputs_keeps_the_stored_secrets(admin_client):
    connection = ConnectionFactory(
        platform="telegram", webhook_url="", credentials={"bot_token": CANARY}
    )
    response = admin_client.post(f"{ADMIN}{connection.pk}/change/", form_data(name="Renamed"))
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.name == "Renamed"
    assert connection.credentials == {"bot_token": CANARY}


def test_missing_platform_fields_are_shown_on_the_form(admin_client):
    response = admin_client.post(f"{ADMIN}add/", form_data())
    assert response.status_code == 200
    assert "credentials.bot_token: Required." in response.content.decode()
    assert not IntegrationConnection.objects.exists()


def test_credentials_must_be_a_json_object(admin_client):
    response = admin_client.post(f"{ADMIN}add/", form_data(new_credentials=CANARY))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Must be a JSON object." in html
    assert CANARY not in html  # the typed value is not echoed back


@pytest.mark.usefixtures("allow_loopback")
def test_the_verify_action_records_and_reports_the_result(admin_client, httpserver):
    httpserver.expect_request("/hook").respond_with_data("", status=204)
    connection = ConnectionFactory(platform="webhook", webhook_url=httpserver.url_for("/hook"))
    response = admin_client.post(
        ADMIN, {"action": "verify", "_selected_action": [connection.pk]}, follow=True
    )
    assert "verified: ping accepted (204)" in response.content.decode()
    connection.refresh_from_db()
    assert connection.is_verified is True


def test_a_config_that_is_not_an_object_is_a_form_error_not_a_crash(admin_client):
    response = admin_client.post(f"{ADMIN}add/", form_data(config="[1, 2]"))
    assert response.status_code == 200
    assert "config: Must be a JSON object." in response.content.decode()
