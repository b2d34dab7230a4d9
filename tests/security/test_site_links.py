"""Absolute links name the server as the client reached it (config/site.py)."""

import importlib

import pytest
from rest_framework.test import APIClient

import config.settings as settings_module
from alerts.messages import execution_link
from tests.security.conftest import API, World


@pytest.fixture
def unset_site_url(settings):
    settings.SITE_URL = ""
    settings.ALLOWED_HOSTS = ["flows.example.com", "testserver"]


def webhook_url(world: World, **headers) -> str:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.staff_token}")
    response = client.get(f"{API}workflows/{world.ids['workflows']}", **headers)
    assert response.status_code == 200, response.content
    return response.json()["webhook_url"]


def test_webhook_url_names_the_host_and_port_the_client_used(world, unset_site_url):
    url = webhook_url(world, HTTP_HOST="flows.example.com:9123")

    assert url == f"http://flows.example.com:9123{API}hooks/{world.ids['token']}"


def test_webhook_url_takes_the_scheme_the_proxy_reports(world, unset_site_url, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    url = webhook_url(world, HTTP_HOST="flows.example.com", HTTP_X_FORWARDED_PROTO="https")

    assert url.startswith("https://flows.example.com/api/")


def test_a_host_not_allowed_is_refused_not_echoed(world, unset_site_url):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.staff_token}")

    response = client.get(f"{API}workflows/{world.ids['workflows']}", HTTP_HOST="evil.example")

    assert response.status_code == 400


def test_an_explicit_site_url_wins(world, settings):
    settings.SITE_URL = "https://workflows.example.com"

    url = webhook_url(world, HTTP_HOST="testserver")

    assert url == f"https://workflows.example.com{API}hooks/{world.ids['token']}"


def test_links_built_outside_a_request_use_the_fallback(settings):
    settings.SITE_URL = ""
    settings.SITE_URL_FALLBACK = "http://127.0.0.1:8123"

    assert execution_link(7) == "http://127.0.0.1:8123/dashboard/executions/7/"


def test_the_fallback_follows_the_port_serve_listens_on(monkeypatch):
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.delenv("SITE_URL", raising=False)
    reloaded = importlib.reload(settings_module)
    try:
        assert reloaded.SITE_URL == ""
        assert reloaded.SITE_URL_FALLBACK == "http://127.0.0.1:8123"
    finally:
        monkeypatch.undo()
        importlib.reload(settings_module)
