"""End to end through a real Celery worker process: API → database → worker → stub → run."""

import pytest

from orchestration.models import OrchestrationRun
from tests.conftest import wait_for
from tests.orchestration.conftest import Reply

pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("allow_loopback")]

BASE = "/api/workflow-orchestration"


def definition(stub):
    return {
        "name": "Fan out and report",
        "type": "parallel",
        "api_calls": [
            {"id": "a", "url": stub.url("/a")},
            {"id": "b", "url": stub.url("/b")},
            {
                "id": "report",
                "method": "POST",
                "url": stub.url("/report"),
                "body": {"sum": "{{ calls.a.body.n + calls.b.body.n }}", "by": "{{ input.by }}"},
            },
        ],
        "dependencies": {"report": ["a", "b"]},
    }


def test_an_executed_orchestration_runs_on_a_worker(api, start_worker, stub):
    stub.route("/a", Reply(200, {"n": 2}))
    stub.route("/b", Reply(200, {"n": 3}))
    stub.route("/report", Reply(201, {"stored": True}))
    orchestration_id = api.post(f"{BASE}/orchestrations", definition(stub), format="json").json()[
        "id"
    ]
    start_worker()
    response = api.post(
        f"{BASE}/orchestrations/{orchestration_id}/execute", {"input": {"by": "ci"}}, format="json"
    )
    assert response.status_code == 202
    run_id = response.json()["id"]
    run = wait_for(lambda: OrchestrationRun.objects.filter(pk=run_id, completed_at__isnull=False))
    assert run.get().status == "succeeded", run.get().error
    [report] = stub.requests_to("/report")
    assert report.json == {"sum": 5, "by": "ci"}
    assert report.headers["Idempotency-Key"] == f"{run_id}-report"
    body = api.get(f"{BASE}/orchestration-runs/{run_id}").json()
    assert {call: record["status"] for call, record in body["calls"].items()} == dict.fromkeys(
        ["a", "b", "report"], "succeeded"
    )


def test_execute_with_wait_answers_200_with_the_finished_run(api, start_worker, stub):
    stub.route("/a", Reply(200, {"n": 1}))
    stub.route("/b", Reply(200, {"n": 1}))
    stub.route("/report", Reply(200, {"stored": True}))
    orchestration_id = api.post(f"{BASE}/orchestrations", definition(stub), format="json").json()[
        "id"
    ]
    start_worker()
    response = api.post(
        f"{BASE}/orchestrations/{orchestration_id}/execute?wait=30",
        {"input": {"by": "ci"}},
        format="json",
    )
    assert response.status_code == 200, response.data
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["result"]["report"] == {"body": {"stored": True}, "extracted": {}}
    assert body["duration_ms"] is not None
