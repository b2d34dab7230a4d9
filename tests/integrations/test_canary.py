"""A canary secret, end to end through a real worker: it reaches the target it is meant for and
nowhere else: no API response, admin page, log line, step record or plaintext database column."""

import json
import logging

import pytest
from django.db import connection as db
from werkzeug import Request, Response

from integrations.redaction import SecretsFilter
from tests.conftest import wait_for
from workflows.models import AutomationExecution

pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("allow_loopback")]

CANARY = "canary-c4f1e8a2-end-to-end"
BASE = "/api/workflow-orchestration"


def echo_and_fail(request: Request) -> Response:
    body = json.dumps({"error": "upstream broke", "auth": request.headers.get("Authorization")})
    return Response(body, status=500, content_type="application/json")


def database_dump() -> str:
    """Every row of every table as text: what pg_dump would write."""
    rows = []
    with db.cursor() as cursor:
        for table in db.introspection.table_names():
            cursor.execute(f"SELECT * FROM {db.ops.quote_name(table)}")
            rows.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(rows)


@pytest.fixture
def captured_log(tmp_path):
    """Everything this process logs, through the handler and filter settings.LOGGING installs."""
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


def test_a_canary_secret_reaches_its_target_and_nothing_else(
    api, admin_client, start_worker, httpserver, captured_log, tmp_path
):
    httpserver.expect_request("/api/thing").respond_with_handler(echo_and_fail)
    created = api.post(
        f"{BASE}/connections",
        {"name": "Partner API", "platform": "webhook", "credentials": {"token": CANARY},
         "webhook_url": f"https://partner.example.com/hooks/{CANARY}"},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201
    connection_id = created.json()["id"]
    workflow = api.post(
        f"{BASE}/workflows",
        {"name": "Call partner", "actions": [
            {"id": "call", "type": "api_call",
             "params": {"url": httpserver.url_for("/api/thing"), "connection": connection_id}}
        ]},
        format="json",
    )  # fmt: skip
    assert workflow.status_code == 201, workflow.content
    worker = start_worker()
    started = api.post(f"{BASE}/workflows/{workflow.json()['id']}/execute", {}, format="json")
    execution_id = started.json()["execution_id"]

    def finished():
        execution = AutomationExecution.objects.get(pk=execution_id)
        return execution if execution.is_finished else None

    execution = wait_for(finished)
    assert execution.status == "failed"
    request, _ = httpserver.log[0]
    assert request.headers["Authorization"] == f"Bearer {CANARY}"  # the one place it belongs

    responses = [
        created,
        workflow,
        started,
        api.get(f"{BASE}/connections"),
        api.get(f"{BASE}/connections/{connection_id}"),
        api.patch(f"{BASE}/connections/{connection_id}", {"name": "Partner"}, format="json"),
        api.get(f"{BASE}/executions/{execution_id}"),
        api.get(f"{BASE}/executions"),
        admin_client.get("/admin/integrations/integrationconnection/"),
        admin_client.get(f"/admin/integrations/integrationconnection/{connection_id}/change/"),
        admin_client.get(f"/admin/workflows/automationexecution/{execution_id}/change/"),
    ]
    for response in responses:
        assert response.status_code in (200, 201, 202), response.request["PATH_INFO"]
        assert CANARY not in response.content.decode(), response.request["PATH_INFO"]
    step = execution.steps.get()
    assert "[redacted]" in step.output["response"]["error_detail"]
    assert CANARY not in json.dumps([step.input, step.output, step.error_message])
    dump = database_dump()
    assert "upstream broke" in dump  # the dump does hold the step records
    assert CANARY not in dump
    assert CANARY not in captured_log.read_text()
    worker.stop()
    assert CANARY not in worker.log_path.read_text()
