"""Step errors carry no query string values, userinfo or response bodies.

An api_call step fails against a stub that answers 500 with a canary in its body; the URL it
called holds a canary in its query string and another as its password. Everything a plain user
can read (activity, stats, the widget, their in-app notifications) and every log record is
searched for the three canaries; staff see the redacted error in lists, and the full one only on
the execution's own page (the dashboard's and the API's execution detail).
"""

import json
import logging
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from pytest_httpserver import HTTPServer
from werkzeug import Response

from alerts.models import AlertDelivery
from alerts.services.deliveries import delivery_attempt
from tests.factories import AlertFactory
from tests.security.conftest import API, World
from workflows.dispatch import Dispatcher
from workflows.engine import execution_run
from workflows.models import AutomationExecution, AutomationExecutionStep
from workflows.services.executions import execution_create
from workflows.services.workflows import workflow_create

pytestmark = pytest.mark.usefixtures("allow_loopback")

RUN = uuid.uuid4().hex[:10]
QUERY_CANARY = f"query-canary-{RUN}"
PASSWORD_CANARY = f"password-canary-{RUN}"
BODY_CANARY = f"body-canary-{RUN}"
CANARIES = (QUERY_CANARY, PASSWORD_CANARY, BODY_CANARY)


def leaked(text: str) -> list[str]:
    return [canary for canary in CANARIES if canary in text]


@pytest.fixture
def failed_execution(
    world: World, httpserver: HTTPServer, monkeypatch, django_capture_on_commit_callbacks
) -> AutomationExecution:
    """An api_call that fails against the stub, and an in-app alert to the plain user, delivered
    in-process (no worker: the broker edge is replaced by a list)."""
    httpserver.expect_request("/v1/items").respond_with_response(
        Response(json.dumps({"error": BODY_CANARY}), status=500, content_type="application/json")
    )
    url = httpserver.url_for("/v1/items").replace("://", f"://svc:{PASSWORD_CANARY}@")
    workflow = workflow_create(
        data={
            "name": "Leaky",
            "actions": [
                {
                    "id": "fetch",
                    "type": "api_call",
                    "params": {"url": f"{url}?api_key={QUERY_CANARY}&page=2"},
                }
            ],
        },
        user=world.staff,
    )
    AlertFactory(
        workflow=workflow, channel="in_app", recipients=[world.plain.username],
        events=["execution.failed", "step.failed"],
    )  # fmt: skip
    deliveries: list[int] = []

    def publish(dispatcher, pk, marked, countdown, control):
        if dispatcher.task == "alerts.deliver":
            deliveries.append(pk)

    monkeypatch.setattr(Dispatcher, "_publish", publish)
    with django_capture_on_commit_callbacks(execute=True):
        execution, _ = execution_create(workflow=workflow, trigger_type="manual", payload={})
        execution_run(execution_id=execution.pk, worker="test")
    for delivery_id in deliveries:
        with django_capture_on_commit_callbacks(execute=True):
            delivery_attempt(delivery_id=delivery_id)
    execution.refresh_from_db()
    assert execution.status == "failed"
    return execution


def test_the_step_error_names_the_url_without_its_query_values_or_password(failed_execution):
    step = AutomationExecutionStep.objects.get(execution=failed_execution)

    assert leaked(step.error_message) == []
    assert "?api_key=[redacted]&page=[redacted]" in step.error_message
    assert step.error_message.startswith("HTTP 500 from GET http://127.0.0.1:")


def test_nothing_a_plain_user_reads_holds_a_canary(failed_execution, world: World):
    assert AlertDelivery.objects.filter(status="sent").exists()
    api = world.client("plain_token")
    session = Client()
    session.force_login(world.plain)
    readable = {
        "activity": api.get(f"{API}activity").content.decode(),
        "stats": api.get(f"{API}stats").content.decode(),
        "notifications": api.get(f"{API}notifications").content.decode(),
        "widget": session.get(reverse("dashboard:widget")).content.decode(),
        "widget panel": session.get(reverse("dashboard:widget-panel")).content.decode(),
    }

    assert "Leaky" in readable["activity"]
    assert world.plain.notifications.exists()
    assert {place: leaked(text) for place, text in readable.items() if leaked(text)} == {}


def test_staff_lists_show_the_redacted_error(failed_execution, world: World):
    listing = world.client("staff").get(f"{API}executions").content.decode()

    assert "[redacted]" in listing
    assert leaked(listing) == []


def test_staff_read_the_full_error_on_the_executions_own_page(failed_execution, world: World):
    detail = world.client("staff").get(f"{API}executions/{failed_execution.pk}").json()
    page = Client()
    page.force_login(world.staff)
    html = page.get(reverse("dashboard:execution-detail", args=[failed_execution.pk]))

    full = detail["steps"][0]["output"]["response"]["error_detail"]
    assert QUERY_CANARY in full and BODY_CANARY in full
    assert BODY_CANARY in html.content.decode()


def test_no_log_record_holds_a_canary(world: World, httpserver, monkeypatch, caplog, request):
    caplog.set_level(logging.DEBUG)

    request.getfixturevalue("failed_execution")

    records = "\n".join(
        f"{record.getMessage()} {record.exc_text or ''}"
        for record in caplog.records
        if record.name != "werkzeug"  # the stub server's own access log, not ours
    )
    assert "fetch" in records  # the step's failure was logged
    assert leaked(records) == []
