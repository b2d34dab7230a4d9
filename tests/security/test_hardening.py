"""Hardening: failed-token throttling, trigger rate limits, request body limits (declared and
chunked), CSRF on forms, security headers and the content security policy, the deploy check, and
what production refuses to start with."""

import http.client
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from core.security import DEFAULT_SECRET_KEY, production_check, rate_check
from tests.conftest import ROOT, process_env
from tests.security.conftest import World, dashboard_pages, world_create
from tests.security.test_authorization import page_url
from workflows.api.authentication import AuthFailureThrottle
from workflows.api.triggers import WebhookTokenThrottle
from workflows.models import AutomationExecution

BASE = "/api/workflow-orchestration"
GOOD_SECRET_KEY = "k3y-" + "0123456789abcdefghijklmnopqrstuvwxyz" * 2

# --- Failed tokens --------------------------------------------------------------------------


@pytest.fixture
def three_failures_a_minute(settings) -> None:
    settings.API_AUTH_FAILURE_RATE = "3/minute"


def bearer(token: str, address: str = "127.0.0.1", **headers: str) -> APIClient:
    client = APIClient(REMOTE_ADDR=address, **headers)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_failed_tokens_from_one_address_are_answered_429_after_the_limit(
    world: World, three_failures_a_minute
):
    statuses = [bearer(f"wfo_guess{n}").get(f"{BASE}/workflows").status_code for n in range(4)]

    assert statuses == [401, 401, 401, 429]
    throttled = bearer("wfo_guess").get(f"{BASE}/workflows")
    assert int(throttled["Retry-After"]) > 0
    assert throttled.json()["detail"].startswith("Too many failed authentications")


def test_a_throttled_address_cannot_use_even_a_good_token_but_another_address_can(
    world: World, three_failures_a_minute
):
    for n in range(3):
        bearer(f"wfo_guess{n}").get(f"{BASE}/workflows")

    assert bearer(world.staff_token).get(f"{BASE}/workflows").status_code == 429
    elsewhere = bearer(world.staff_token, address="192.0.2.7").get(f"{BASE}/workflows")
    assert elsewhere.status_code == 200


def test_a_forged_x_forwarded_for_does_not_escape_the_throttle(
    world: World, three_failures_a_minute
):
    statuses = [
        bearer(f"wfo_guess{n}", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
        .get(f"{BASE}/workflows")
        .status_code
        for n in range(4)
    ]

    assert statuses[-1] == 429


def test_revoked_tokens_count_as_failures_and_the_window_passes(
    world: World, three_failures_a_minute, monkeypatch
):
    now = [1000.0]
    monkeypatch.setattr(AuthFailureThrottle, "timer", lambda self: now[0])
    for _ in range(3):
        assert bearer(world.revoked_token).get(f"{BASE}/workflows").status_code == 401
    assert bearer(world.staff_token).get(f"{BASE}/workflows").status_code == 429

    now[0] += 61

    assert bearer(world.staff_token).get(f"{BASE}/workflows").status_code == 200


@pytest.mark.parametrize("rate", ["20/minute", "5/s", "100/hour", " 1/day "])
def test_a_rate_setting_is_read_as_drf_reads_it(rate):
    assert rate_check("API_AUTH_FAILURE_RATE", rate) == rate.strip()


@pytest.mark.parametrize("rate", ["", "20", "twenty/minute", "0/minute", "20/fortnight"])
def test_a_malformed_rate_setting_is_refused_at_start(rate):
    with pytest.raises(ImproperlyConfigured, match="API_AUTH_FAILURE_RATE must be a rate"):
        rate_check("API_AUTH_FAILURE_RATE", rate)


def test_a_webhook_trigger_is_rate_limited_per_token(world: World, monkeypatch):
    monkeypatch.setattr(WebhookTokenThrottle, "rate", "2/minute", raising=False)
    url = f"{BASE}/hooks/{world.ids['token']}"

    statuses = [APIClient().post(url, {}, format="json").status_code for _ in range(3)]

    assert statuses == [202, 202, 429]


# --- Request bodies ----------------------------------------------------------------------------

ONE_MB = 1024 * 1024


def test_a_webhook_body_declared_over_1_mb_is_answered_413(world: World):
    body = json.dumps({"x": "a" * ONE_MB})

    response = Client().post(
        f"{BASE}/hooks/{world.ids['token']}", body, content_type="application/json"
    )

    assert response.status_code == 413


def test_a_chunked_body_on_a_server_that_cannot_end_it_is_answered_411(world: World):
    response = Client().post(
        f"{BASE}/hooks/{world.ids['token']}", b"{}", content_type="application/json",
        CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked",
    )  # fmt: skip

    assert response.status_code == 411


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn(transactional_db, tmp_path) -> Iterator[int]:
    """The production web server (as bin/serve runs it) on a loopback port, sharing the test
    database."""
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", "1", "--control-socket", str(tmp_path / "ctl")],
        cwd=ROOT, env=process_env(), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    try:
        yield port
    finally:
        process.kill()
        process.wait(timeout=10)
        log.close()


def chunked_post(port: int, path: str, chunks: Iterator[bytes]) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(
        "POST", path, body=chunks, encode_chunked=True,
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )  # fmt: skip
    response = connection.getresponse()
    return response.status, response.read()


def test_a_chunked_webhook_body_over_1_mb_is_answered_413_by_gunicorn(gunicorn: int):
    def chunks() -> Iterator[bytes]:
        yield b'{"x": "'
        for _ in range(33):
            yield b"a" * 32 * 1024
        yield b'"}'

    status, _ = chunked_post(gunicorn, f"{BASE}/hooks/anything", chunks())

    assert status == 413


def test_a_small_chunked_webhook_body_reaches_the_workflow(gunicorn: int):
    world = world_create()

    status, body = chunked_post(
        gunicorn, f"{BASE}/hooks/{world.ids['token']}", iter([b'{"post": ', b"42}"])
    )

    assert status == 202, body
    execution = AutomationExecution.objects.get(pk=json.loads(body)["execution_id"])
    assert execution.trigger_payload == {"post": 42}


# --- Text the database cannot store ----------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    ['{"x": "a\\u0000b"}', '{"a\\u0000": 1}', '{"x": "\\ud800"}', '{"x": ["\\udc00x"]}',
     '{"x": NaN}', '{"x": -Infinity}', 'text with a \x00 in it'],
)  # fmt: skip
def test_a_body_with_text_the_database_cannot_store_is_answered_400(body, world: World):
    url = f"{BASE}/hooks/{world.ids['token']}"

    response = Client().post(url, body.encode(), content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("The body")


def test_a_query_with_a_nul_character_is_answered_400(world: World):
    response = bearer(world.staff_token).get(f"{BASE}/workflows", {"search": "a\x00b"})

    assert response.status_code == 400


def test_a_surrogate_pair_is_ordinary_text(world: World):
    url = f"{BASE}/workflows/{world.ids['workflows']}/execute"

    response = bearer(world.staff_token).generic(
        "POST", url, '{"mood": "\\ud83d\\ude00"}', content_type="application/json"
    )

    assert response.status_code == 202
    execution = AutomationExecution.objects.get(pk=response.json()["execution_id"])
    assert execution.trigger_payload == {"mood": "\U0001f600"}


# --- CSRF ------------------------------------------------------------------------------------


class _Forms(HTMLParser):
    """Collects each <form method="post"> and whether it carries the CSRF token, and every
    <script> tag with the attributes it came with."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[bool] = []
        self.scripts: list[dict[str, str | None]] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        self.handlers += [
            name for name, value in attrs if (value or "").strip().lower().startswith("javascript:")
        ]
        if tag == "form" and (attributes.get("method") or "").lower() == "post":
            self.forms.append(False)
        if tag == "input" and attributes.get("name") == "csrfmiddlewaretoken" and self.forms:
            self.forms[-1] = True
        if tag == "script":
            self.scripts.append(attributes)


def parsed(html: bytes) -> _Forms:
    forms = _Forms()
    forms.feed(html.decode())
    return forms


def staff_pages(world: World) -> dict[str, Client]:
    """Every HTML page a person sees: the API docs, the admin's sign-in and index, and every
    dashboard page that answers a GET."""
    pages = {reverse("api-docs"): Client(), reverse("admin:login"): Client()}
    staff = Client()
    staff.force_login(world.staff)
    pages[reverse("admin:index")] = staff
    for page in dashboard_pages():
        pages[page_url(world, page)] = Client() if page.name == "login" else staff
    return pages


def html_pages(world: World) -> Iterator[tuple[str, bytes]]:
    world.staff.is_superuser = True
    world.staff.save()
    for url, client in staff_pages(world).items():
        response = client.get(url)
        if response.status_code == 200 and "text/html" in response["Content-Type"]:
            yield url, response.content


def test_every_post_form_on_every_page_carries_the_csrf_token(world: World):
    checked = 0
    for url, html in html_pages(world):
        forms = parsed(html).forms
        assert all(forms), f"a POST form on {url} has no csrfmiddlewaretoken"
        checked += len(forms)
    assert checked >= 2  # the admin's and the dashboard's sign-in forms at least


@pytest.mark.parametrize("url_name", ["admin:login", "dashboard:login"])
def test_a_sign_in_without_the_csrf_token_is_refused(url_name, world: World):
    url = reverse(url_name)
    client = Client(enforce_csrf_checks=True)

    response = client.post(url, {"username": "sec-staff", "password": "x"})

    assert response.status_code == 403


def test_a_dashboard_action_without_the_csrf_token_is_refused(world: World):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.staff)
    url = reverse("dashboard:workflow-run", kwargs={"workflow_id": world.ids["workflows"]})

    response = client.post(url, {"payload": "{}"})

    assert response.status_code == 403


def test_the_api_refuses_a_session_write_without_the_csrf_token(world: World):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.staff)

    response = client.post(f"{BASE}/events", {"name": "x"}, format="json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


# --- Headers and the content security policy ----------------------------------------------------


@pytest.mark.parametrize("url", ["/admin/login/", f"{BASE}/health", "/api/docs/"])
def test_every_response_carries_the_security_headers(url, db):
    response = Client().get(url)

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert "Strict-Transport-Security" not in response  # plain HTTP: no HSTS


def test_hsts_is_sent_over_https_when_configured(settings, db):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True

    response = Client().get("/admin/login/", secure=True)

    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_no_page_runs_inline_script(world: World):
    checked = []
    for url, html in html_pages(world):
        page = parsed(html)
        inline = [
            attributes
            for attributes in page.scripts
            if not attributes.get("src") and attributes.get("type") != "application/json"
        ]
        assert inline == [], f"{url} has an inline <script>"
        assert page.handlers == [], f"{url} has inline event handlers: {page.handlers}"
        checked.append(url)
    assert "/api/docs/" in checked


def test_the_api_docs_load_their_start_up_script_from_a_url(db):
    page = parsed(Client().get("/api/docs/").content)
    sources = [attributes["src"] for attributes in page.scripts]

    script = Client().get(sources[-1])

    assert script.status_code == 200
    assert "javascript" in script["Content-Type"]
    assert b"SwaggerUIBundle" in script.content


# --- Production settings ----------------------------------------------------------------------


def production_env(**overrides: str) -> dict[str, str]:
    env = process_env(
        DJANGO_ENV="production",
        SECRET_KEY=GOOD_SECRET_KEY,
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="workflows.example.com",
        # Production names a cache every web process shares (else core.W001).
        CACHE_URL="redis://127.0.0.1:6379/1",
    )
    env.pop("DEBUG", None)
    env.update(overrides)
    return env


def manage(*arguments: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *arguments], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip


def test_the_deploy_check_is_clean_under_production_settings(db):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_with_debug_on(db):
    result = manage("check", env=production_env(DEBUG="true"))

    assert result.returncode != 0
    assert "DEBUG must be off" in result.stderr


@pytest.mark.parametrize(
    ("debug", "secret_key", "complaint"),
    [
        (True, GOOD_SECRET_KEY, "DEBUG must be off"),
        (False, DEFAULT_SECRET_KEY, "SECRET_KEY must be set"),
        (False, "short-key", "at least 50 random characters"),
        (False, "a" * 60, "at least 50 random characters"),
    ],
)
def test_production_check_names_what_is_wrong(debug, secret_key, complaint):
    with pytest.raises(ImproperlyConfigured, match=complaint):
        production_check(debug=debug, secret_key=secret_key)


def test_production_check_accepts_a_strong_key_with_debug_off():
    production_check(debug=False, secret_key=GOOD_SECRET_KEY)


def test_production_refuses_to_start_without_encryption_keys(db):
    env = production_env()
    env.pop("FIELD_ENCRYPTION_KEYS")

    result = manage("check", env=env)

    assert "FIELD_ENCRYPTION_KEYS is required" in result.stderr
