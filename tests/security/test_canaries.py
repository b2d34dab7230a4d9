"""Secret canaries, end to end through a real worker: a unique value planted in every kind of
secret reaches the place it is meant for and nowhere else.

Kinds: connection credentials (a bearer token, a Telegram bot token, a basic-auth password, a
webhook signing secret), a connection's webhook URL, a workflow's webhook signing secret, and API
tokens (in use, and revoked). Workflows and alerts that use them run and fail against a stub that
echoes everything it was sent (as receivers do: n8n's 404 quotes the webhook id); then every API
response, dashboard page, admin page, log line, step record, alert delivery, alert message and
database row is searched for each canary's plaintext (and its URL-quoted and basic-auth forms).
tests/integrations/test_canary.py covers one credential the same way; this covers all kinds.
"""

import base64
import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib import admin
from django.db import connection as db
from django.test import Client
from django.urls import reverse
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from alerts.models import AlertDelivery
from integrations.redaction import SecretsFilter
from tests.conftest import wait_for
from tests.security.conftest import World, dashboard_pages, operation_url, schema_operations
from tests.security.test_authorization import page_url
from workflows.models import AutomationExecution, AutomationExecutionStep
from workflows.services.tokens import api_token_create, api_token_revoke

pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("allow_loopback")]

BASE = "/api/workflow-orchestration"
RUN = uuid.uuid4().hex[:12]
CANARIES = {
    "credentials.token": f"canary-token-{RUN}-a1",
    "credentials.bot_token": f"4242:canary-bot-{RUN}-b2",
    "credentials.password": f"canary-password-{RUN}-c3",
    "credentials.signing_secret": f"canary-signing-{RUN}-d4",
    "webhook_url": f"canary-hook-{RUN}-e5",
    "workflow webhook_secret": f"canary-whsec-{RUN}-f6",
}


def echo(request: Request) -> Response:
    """Answer 500 with everything the request carried: path, headers and body."""
    body = {
        "path": request.path,
        "headers": dict(request.headers),
        "got": request.get_data(as_text=True),
    }
    return Response(json.dumps(body), status=500, content_type="application/json")


def database_dump() -> str:
    """Every row of every table as text, as a dump would hold it."""
    rows = []
    with db.cursor() as cursor:
        for table in db.introspection.table_names():
            cursor.execute(f"SELECT * FROM {db.ops.quote_name(table)}")
            rows.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(rows)


@pytest.fixture
def captured_log(tmp_path: Path) -> Iterator[Path]:
    """Everything this process logs at DEBUG and up, through the filters settings.LOGGING set."""
    root = logging.getLogger()
    configured = next(
        h for h in root.handlers if any(isinstance(f, SecretsFilter) for f in h.filters)
    )
    path = tmp_path / "web.log"
    handler = logging.FileHandler(path)
    handler.filters = list(configured.filters)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.DEBUG)
    yield path
    root.setLevel(previous)
    root.removeHandler(handler)
    handler.close()


def needles(secrets: dict[str, str]) -> dict[str, str]:
    """Each secret, its URL-quoted form, and the basic-auth header value built from it."""
    found = {}
    for kind, secret in secrets.items():
        found[kind] = secret
        found[f"{kind} (quoted)"] = quote(secret, safe="")
    pair = f"user:{secrets['credentials.password']}".encode()
    found["credentials.password (basic auth)"] = base64.b64encode(pair).decode()
    return found


def signed(secret: str, body: bytes) -> str:
    timestamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


class Places:
    """Where the canaries are looked for: named texts."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}

    def add(self, name: str, text: str | bytes) -> None:
        self.texts[name] = text.decode(errors="replace") if isinstance(text, bytes) else text

    def hits(self, secrets: dict[str, str]) -> list[str]:
        return [
            f"{kind} in {name}"
            for name, text in self.texts.items()
            for kind, needle in secrets.items()
            if needle in text
        ]


class Api:
    """The staff API client; every response it gets is a place searched."""

    def __init__(self, token: str, places: Places) -> None:
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        self.places = places

    def __call__(self, method: str, path: str, body: object = None) -> Any:
        response = getattr(self.client, method)(
            f"{BASE}/{path}", json.dumps(body) if body is not None else None,
            content_type="application/json",
        )  # fmt: skip
        self.places.add(f"{method.upper()} {path} → {response.status_code}", response.content)
        return response


def plant(api: Api, stub: str) -> dict[str, Any]:
    """Connections, workflows and an alert holding every kind of secret; returns their ids."""
    made = {
        name: api("post", "connections", body).json()["id"]
        for name, body in {
            "partner": {"name": "Partner API", "platform": "webhook", "webhook_url": f"{stub}/in",
                        "credentials": {"token": CANARIES["credentials.token"]}},
            "basic": {"name": "Basic API", "platform": "webhook", "webhook_url": f"{stub}/in",
                      "credentials": {"username": "user",
                                      "password": CANARIES["credentials.password"]}},
            "hook": {"name": "Alerts hook", "platform": "n8n",
                     "webhook_url": f"{stub}/webhook/{CANARIES['webhook_url']}",
                     "credentials": {"signing_secret": CANARIES["credentials.signing_secret"]}},
            "telegram": {"name": "Bot", "platform": "telegram",
                         "config": {"api_base_url": stub, "chat_id": "1"},
                         "credentials": {"bot_token": CANARIES["credentials.bot_token"]}},
        }.items()
    }  # fmt: skip
    made["failing"] = api("post", "workflows", {
        "name": "Call partners", "actions": [
            {"id": "bearer", "type": "api_call", "continue_on_failure": True,
             "params": {"url": f"{stub}/api/thing", "connection": made["partner"]}},
            {"id": "basic", "type": "api_call",
             "params": {"url": f"{stub}/api/basic", "connection": made["basic"]}},
        ],
    }).json()["id"]  # fmt: skip
    hooked = api("post", "workflows", {
        "name": "Signed hook", "trigger": {"type": "webhook"},
        "webhook_secret": CANARIES["workflow webhook_secret"],
        "actions": [{"id": "t", "type": "transform", "params": {"values": {"x": 1}}}],
    }).json()  # fmt: skip
    made["token"] = hooked["webhook_url"].rstrip("/").rsplit("/", 1)[-1]
    made["alert"] = api("post", "alerts", {
        "name": "Failures", "channel": "webhook", "connection": made["hook"],
        "events": ["execution.failed", "step.failed"], "severity": "info",
    }).json()["id"]  # fmt: skip
    return made


def use_and_fail(api: Api, made: dict[str, Any], revoked_token: str) -> int:
    """Run the failing workflow, call the signed webhook badly and well, verify and test the
    connections and alert, and use the revoked token; returns the execution's id."""
    execution_id = api("post", f"workflows/{made['failing']}/execute", {}).json()["execution_id"]
    body = json.dumps({"event": "push"}).encode()
    for signature in ("t=1,v1=00", signed(CANARIES["workflow webhook_secret"], body)):
        response = Client().post(
            f"{BASE}/hooks/{made['token']}", body, content_type="application/json",
            HTTP_X_SIGNATURE=signature,
        )  # fmt: skip
        api.places.add(f"POST hooks/… → {response.status_code}", response.content)
    api("post", f"connections/{made['telegram']}/verify")
    api("post", f"connections/{made['hook']}/verify")
    api("post", f"alerts/{made['alert']}/test")
    revoked = Client(HTTP_AUTHORIZATION=f"Bearer {revoked_token}").get(f"{BASE}/workflows")
    api.places.add("GET workflows with the revoked token", revoked.content)
    return execution_id


def sent_where_it_belongs(httpserver: HTTPServer, secrets: dict[str, str]) -> None:
    """Each secret did reach its target: the canaries were really used."""
    sent = {(request.path, request.headers.get("Authorization")) for request, _ in httpserver.log}
    basic = "Basic " + needles(secrets)["credentials.password (basic auth)"]
    assert ("/api/thing", f"Bearer {CANARIES['credentials.token']}") in sent
    assert ("/api/basic", basic) in sent
    paths = {path for path, _ in sent}
    assert f"/webhook/{CANARIES['webhook_url']}" in paths
    assert f"/bot{CANARIES['credentials.bot_token']}/getMe" in paths


def search_api_and_pages(api: Api, made: dict[str, Any], execution_id: int, staff, admin_user):
    """Every GET of the API schema, every dashboard page, and the admin's change list and
    change page of every object of every model."""
    ids = {
        "workflows": made["failing"], "executions": execution_id, "alerts": made["alert"],
        "connections": made["hook"], "token": made["token"], "workflow_id": made["failing"],
        "articles": 0, "orchestrations": 0, "orchestration-runs": 0, "notifications": 0,
        "jobs": 0, "test_id": 0,
        "article_id": 0, "version_number": 1, "number": 1, "a": 1, "b": 1,
    }  # fmt: skip
    for operation in schema_operations():
        if operation.method == "get":
            api("get", operation_url(operation, ids).removeprefix(f"{BASE}/"))
    for name in ("partner", "basic", "telegram"):
        api("get", f"connections/{made[name]}")
    pages = Client()
    pages.force_login(staff)
    world = World(staff, staff, staff, "", "", "", ids, {"staff": 0})
    for page in dashboard_pages():
        url = page_url(world, page)
        api.places.add(f"dashboard {url}", pages.get(url).content)
    pages.force_login(admin_user)
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        changelist = reverse("admin:{}_{}_changelist".format(*info))
        api.places.add(f"admin {changelist}", pages.get(changelist).content)
        for pk in model.objects.values_list("pk", flat=True)[:20]:
            change = reverse("admin:{}_{}_change".format(*info), args=[pk])
            api.places.add(f"admin {change}", pages.get(change).content)


def search_records(places: Places, httpserver: HTTPServer) -> None:
    """Step records, alert deliveries, the alert messages the receiver got, the database."""
    for step in AutomationExecutionStep.objects.all():
        places.add(f"step {step.pk}", json.dumps([step.input, step.output, step.error_message]))
    for delivery in AlertDelivery.objects.all():
        record = [delivery.payload, delivery.attempt_log, delivery.error]
        places.add(f"delivery {delivery.pk}", json.dumps(record, default=str))
    for number, (request, _) in enumerate(httpserver.log):
        if request.path.startswith("/webhook/"):
            places.add(f"alert message {number}", request.get_data())
    places.add("database dump", database_dump())


def test_no_secret_of_any_kind_appears_anywhere_but_where_it_is_sent(
    staff_user, start_worker, httpserver: HTTPServer, captured_log, admin_user
):
    httpserver.expect_request(re.compile(".*")).respond_with_handler(echo)
    _, staff_token = api_token_create(user=staff_user, name="canary")
    revoked_row, revoked_token = api_token_create(user=staff_user, name="revoked canary")
    api_token_revoke(token=revoked_row)
    secrets = {**CANARIES, "api token": staff_token, "revoked api token": revoked_token}
    places = Places()
    api = Api(staff_token, places)
    made = plant(api, f"http://127.0.0.1:{httpserver.port}")
    worker = start_worker(ALERT_DELIVERY_MAX_ATTEMPTS="1")

    execution_id = use_and_fail(api, made, revoked_token)

    def settled() -> bool:
        deliveries = AlertDelivery.objects.filter(alert_id=made["alert"])
        delivered = deliveries.exists() and not deliveries.filter(status="pending").exists()
        return delivered and AutomationExecution.objects.get(pk=execution_id).is_finished

    wait_for(settled, timeout_s=60)
    assert AutomationExecution.objects.get(pk=execution_id).status == "failed"
    sent_where_it_belongs(httpserver, secrets)
    search_api_and_pages(api, made, execution_id, staff_user, admin_user)
    search_records(places, httpserver)
    places.add("web process log", captured_log.read_text())
    worker.stop()
    places.add("worker log", worker.log_path.read_text())
    hits = places.hits(needles(secrets))
    print(f"\ncanaries: {len(needles(secrets))} needles searched in {len(places.texts)} places")
    assert hits == [], "\n".join(hits)
    assert "[redacted]" in places.texts["database dump"]
