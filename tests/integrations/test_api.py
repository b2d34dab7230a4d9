"""The connections endpoints: CRUD with write-only secrets, verify, validation, permissions."""

import json

import pytest
from rest_framework.test import APIClient

from integrations.models import IntegrationConnection
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

BASE = "/api/workflow-orchestration/connections"
CANARY = "canary-2b9d4e71-api"


def slack_payload(**extra) -> dict:
    return {
        "name": "Ops Slack",
        "platform": "slack",
        "webhook_url": f"https://hooks.slack.com/services/T1/B1/{CANARY}",
        "credentials": {"token": f"xoxb-{CANARY}"},
        "config": {"channel": "#ops"},
        **extra,
    }


def test_create_answers_201_without_the_secrets(api):
    response = api.post(BASE, slack_payload(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert CANARY not in response.content.decode()
    assert "credentials" not in body and "webhook_url" not in body
    assert body["has_credentials"] is True
    assert body["webhook_url_set"] is True
    assert body["webhook_url_host"] == "hooks.slack.com"
    assert body["is_verified"] is False
    stored = IntegrationConnection.objects.get(pk=body["id"])
    assert stored.credentials == {"token": f"xoxb-{CANARY}"}


def test_list_and_detail_never_show_secrets(api):
    connection = ConnectionFactory(
        platform="slack", webhook_url=f"https://hooks.slack.com/{CANARY}",
        credentials={"token": CANARY},
    )  # fmt: skip
    listing = api.get(BASE)
    detail = api.get(f"{BASE}/{connection.pk}")
    assert listing.status_code == detail.status_code == 200
    assert listing.json()["count"] == 1
    for response in (listing, detail):
        assert CANARY not in response.content.decode()


def test_an_update_that_omits_secrets_keeps_them(api):
    connection_id = api.post(BASE, slack_payload(), format="json").json()["id"]
    response = api.patch(f"{BASE}/{connection_id}", {"name": "Renamed"}, format="json")
    assert response.status_code == 200
    assert CANARY not in response.content.decode()
    stored = IntegrationConnection.objects.get(pk=connection_id)
    assert stored.name == "Renamed"
    assert stored.credentials == {"token": f"xoxb-{CANARY}"}
    assert stored.webhook_url.endswith(CANARY)


def test_an_update_with_new_credentials_replaces_them_whole(api):
    connection_id = api.post(BASE, slack_payload(), format="json").json()["id"]
    response = api.put(
        f"{BASE}/{connection_id}",
        {"name": "Ops", "platform": "slack", "credentials": {"token": "xoxb-new"},
         "webhook_url": ""},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    stored = IntegrationConnection.objects.get(pk=connection_id)
    assert stored.credentials == {"token": "xoxb-new"}
    assert stored.webhook_url == ""
    assert response.json()["webhook_url_set"] is False


def test_changing_a_secret_clears_is_verified(api):
    connection = ConnectionFactory(is_verified=True)
    api.patch(f"{BASE}/{connection.pk}", {"webhook_url": "https://x.example/2"}, format="json")
    connection.refresh_from_db()
    assert connection.is_verified is False


def test_missing_platform_fields_are_400_with_field_names(api):
    response = api.post(
        BASE, {"name": "TG", "platform": "telegram", "config": {"chat_id": 1}}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"credentials": {"bot_token": ["Required."]}}
    assert not IntegrationConnection.objects.exists()


def test_an_unknown_platform_is_400(api):
    response = api.post(BASE, {"name": "x", "platform": "fax"}, format="json")
    assert response.status_code == 400
    assert "platform" in response.json()


def test_secrets_put_in_config_are_refused(api):
    response = api.post(BASE, slack_payload(config={"token": CANARY}), format="json")
    assert response.status_code == 400
    assert response.json()["config"] == ["Put secrets in credentials, not config: token."]
    assert CANARY not in response.content.decode()


def test_a_patch_that_breaks_the_platforms_needs_is_400_and_changes_nothing(api):
    connection = ConnectionFactory(platform="webhook")
    response = api.patch(f"{BASE}/{connection.pk}", {"platform": "telegram"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"credentials": {"bot_token": ["Required."]}}
    connection.refresh_from_db()
    assert connection.platform == "webhook"


def test_delete_removes_the_connection(api):
    connection = ConnectionFactory()
    assert api.delete(f"{BASE}/{connection.pk}").status_code == 204
    assert not IntegrationConnection.objects.exists()


def test_filter_by_platform_and_search_by_name(api):
    ConnectionFactory(name="Alpha hook", platform="webhook")
    ConnectionFactory(name="Beta", platform="n8n")
    assert [c["name"] for c in api.get(f"{BASE}?platform=n8n").json()["results"]] == ["Beta"]
    assert [c["name"] for c in api.get(f"{BASE}?search=alpha").json()["results"]] == ["Alpha hook"]


@pytest.mark.usefixtures("allow_loopback")
def test_verify_answers_with_the_result_and_records_it(api, httpserver):
    httpserver.expect_request("/hook").respond_with_data("gone", status=410)
    connection = ConnectionFactory(platform="webhook", webhook_url=httpserver.url_for("/hook"))
    response = api.post(f"{BASE}/{connection.pk}/verify")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"is_verified", "detail", "latency_ms"}
    assert body["is_verified"] is False
    assert body["detail"] == "answered 410: gone"
    detail = api.get(f"{BASE}/{connection.pk}").json()
    assert detail["last_error"] == "answered 410: gone"
    assert detail["last_verified_at"] is not None


def test_paths_work_without_a_trailing_slash_and_with_one(api):
    connection = ConnectionFactory()
    assert api.get(f"{BASE}/").status_code == 200
    assert api.get(f"{BASE}/{connection.pk}/").status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", ""), ("post", ""), ("get", "/{id}"), ("patch", "/{id}"), ("delete", "/{id}"),
     ("post", "/{id}/verify")],
)  # fmt: skip
def test_plain_users_and_anonymous_callers_are_refused(plain_api, method, path):
    connection = ConnectionFactory()
    url = BASE + path.format(id=connection.pk)
    assert getattr(plain_api, method)(url, {}, format="json").status_code == 403
    assert getattr(APIClient(), method)(url, {}, format="json").status_code in (401, 403)


def test_a_row_no_key_can_decrypt_is_a_clear_503_not_a_500(api, settings):
    from cryptography.fernet import Fernet

    connection = ConnectionFactory()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    response = api.get(f"{BASE}/{connection.pk}")
    assert response.status_code == 503
    assert "not in FIELD_ENCRYPTION_KEYS" in json.loads(response.content)["detail"]


def test_the_schema_documents_connections(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json() if response["Content-Type"].endswith("json") else None
    text = response.content.decode()
    assert "/connections/{id}/verify" in text
    if schema:
        output = schema["components"]["schemas"]["Connection"]["properties"]
        assert "credentials" not in output and "webhook_url" not in output
