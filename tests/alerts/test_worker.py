"""End to end through a real Celery worker: API → database → worker runs the execution → the
alert subscriber records a delivery → the worker delivers it to a local stub."""

import pytest

from alerts.models import AlertDelivery
from tests.alerts.conftest import FAILING_ACTIONS, SIGNING_SECRET, expected_signature
from tests.conftest import wait_for
from tests.factories import ConnectionFactory
from workflows.models import AutomationExecution

pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("allow_loopback")]

BASE = "/api/workflow-orchestration"


def test_a_failing_execution_delivers_a_signed_webhook_alert_through_a_worker(
    api, start_worker, httpserver
):
    httpserver.expect_request("/alert", method="POST").respond_with_data("", status=204)
    connection = ConnectionFactory(
        webhook_url=httpserver.url_for("/alert"), credentials={"signing_secret": SIGNING_SECRET}
    )
    workflow_id = api.post(
        f"{BASE}/workflows", {"name": "Nightly import", "actions": FAILING_ACTIONS}, format="json"
    ).json()["id"]
    created = api.post(
        f"{BASE}/alerts",
        {"name": "Import failures", "workflow": workflow_id, "channel": "webhook",
         "connection": connection.pk, "events": ["execution.failed"]},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    start_worker()

    execution_id = api.post(f"{BASE}/workflows/{workflow_id}/execute", {}, format="json").json()[
        "execution_id"
    ]
    delivery = wait_for(lambda: AlertDelivery.objects.filter(status__in=["sent", "failed"]).first())
    assert delivery.status == "sent", delivery.error
    assert len(httpserver.log) == 1
    request, _ = httpserver.log[0]
    given, computed = expected_signature(
        SIGNING_SECRET, request.headers["X-Signature"], request.data
    )
    assert given == computed
    body = request.get_json()
    assert body["data"]["execution_id"] == execution_id
    assert body["url"].endswith(f"/dashboard/executions/{execution_id}/")
    execution = AutomationExecution.objects.get(pk=execution_id)
    assert execution.status == "failed"
    log = api.get(f"{BASE}/alerts/{created.json()['id']}/deliveries").json()
    assert [(item["status"], item["attempts"]) for item in log["results"]] == [("sent", 1)]
    alert = api.get(f"{BASE}/alerts/{created.json()['id']}").json()
    assert (alert["trigger_count"], alert["success_count"]) == (1, 1)
