"""The orchestrations API: CRUD, execute, runs, permissions and errors."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from orchestration.models import APIOrchestration, OrchestrationRun
from tests.factories import OrchestrationFactory
from tests.orchestration.conftest import Reply, run_now

pytestmark = pytest.mark.django_db

BASE = "/api/workflow-orchestration"
VALID = {
    "name": "Fan out",
    "description": "Ask two services, then report.",
    "type": "parallel",
    "api_calls": [
        {"id": "a", "url": "https://api.example.com/a", "extract": {"n": "count"}},
        {"id": "b", "method": "post", "url": "https://api.example.com/b", "body": {"q": 1}},
        {
            "id": "report",
            "method": "POST",
            "url": "https://api.example.com/report",
            "body": {"a": "{{ calls.a.extracted.n }}", "b": "{{ calls.b.body }}"},
        },
    ],
    "dependencies": {"report": ["a", "b"]},
    "retry_strategy": {"max_attempts": 3, "backoff": "exponential", "delay_s": 1},
}


def test_staff_creates_reads_updates_and_deletes_an_orchestration(api):
    created = api.post(f"{BASE}/orchestrations", VALID, format="json")
    assert created.status_code == 201, created.data
    body = created.json()
    assert body["api_calls"] == VALID["api_calls"]
    assert (body["success_count"], body["failure_count"], body["success_rate"]) == (0, 0, None)
    url = f"{BASE}/orchestrations/{body['id']}"
    assert api.get(url).json()["dependencies"] == {"report": ["a", "b"]}
    patched = api.patch(url, {"is_active": False, "success_count": 99}, format="json")
    assert patched.status_code == 200
    assert patched.json()["is_active"] is False
    assert patched.json()["success_count"] == 0
    assert api.delete(url).status_code == 204
    assert not APIOrchestration.objects.exists()


def test_the_list_is_paginated_filterable_and_searchable(api):
    OrchestrationFactory(name="Billing sync", type="parallel")
    OrchestrationFactory(name="Nightly report")
    page = api.get(f"{BASE}/orchestrations", {"type": "parallel"}).json()
    assert page["count"] == 1
    assert page["results"][0]["name"] == "Billing sync"
    assert api.get(f"{BASE}/orchestrations/", {"search": "nightly"}).json()["count"] == 1


@pytest.mark.parametrize("path", ["orchestrations", "orchestration-runs"])
def test_only_staff_may_use_the_orchestration_endpoints(plain_api, path):
    assert plain_api.get(f"{BASE}/{path}").status_code == 403
    assert APIClient().get(f"{BASE}/{path}").status_code == 401


def test_only_staff_may_execute(plain_api):
    orchestration = OrchestrationFactory()
    url = f"{BASE}/orchestrations/{orchestration.pk}/execute"
    assert plain_api.post(url, {}, format="json").status_code == 403
    assert APIClient().post(url, {}, format="json").status_code == 401
    assert not OrchestrationRun.objects.exists()


def test_execute_queues_a_run_and_answers_202_with_it(api):
    orchestration = OrchestrationFactory()
    response = api.post(
        f"{BASE}/orchestrations/{orchestration.pk}/execute", {"input": {"n": 3}}, format="json"
    )
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["input"], body["calls"]) == ("queued", {"n": 3}, {})
    run = OrchestrationRun.objects.get(pk=body["id"])
    assert run.definition["api_calls"] == orchestration.api_calls


@pytest.mark.parametrize("wait", ["0", "-1", "61", "soon"])
def test_a_wait_outside_0_to_60_seconds_is_refused_before_anything_is_queued(api, wait):
    orchestration = OrchestrationFactory()
    response = api.post(
        f"{BASE}/orchestrations/{orchestration.pk}/execute?wait={wait}", {}, format="json"
    )
    assert response.status_code == 400
    assert "wait" in response.json()
    assert not OrchestrationRun.objects.exists()


def test_execute_refuses_fields_other_than_input(api):
    orchestration = OrchestrationFactory()
    response = api.post(
        f"{BASE}/orchestrations/{orchestration.pk}/execute", {"n": 3}, format="json"
    )
    assert response.status_code == 400
    assert "input" in response.json()["n"][0]


def test_an_inactive_orchestration_does_not_run(api):
    orchestration = OrchestrationFactory(is_active=False)
    response = api.post(f"{BASE}/orchestrations/{orchestration.pk}/execute", {}, format="json")
    assert response.status_code == 409
    assert not OrchestrationRun.objects.exists()


def test_execute_on_a_missing_orchestration_is_404(api):
    assert api.post(f"{BASE}/orchestrations/999/execute", {}, format="json").status_code == 404


@pytest.mark.usefixtures("allow_loopback")
def test_a_run_shows_each_calls_result(api, stub):
    stub.route("/x", Reply(200, {"count": 5}))
    orchestration = OrchestrationFactory(
        api_calls=[{"id": "x", "url": stub.url("/x"), "extract": {"n": "count"}}]
    )
    run = run_now(orchestration)
    body = api.get(f"{BASE}/orchestration-runs/{run.pk}").json()
    assert body["status"] == "succeeded"
    record = body["calls"]["x"]
    assert record["status"] == "succeeded"
    assert record["status_code"] == 200
    assert record["attempts"] == 1
    assert record["output"] == {"body": {"count": 5}, "extracted": {"n": 5}}
    assert record["error"] == ""
    assert record["duration_ms"] >= 0
    assert body["result"] == {"x": {"body": {"count": 5}, "extracted": {"n": 5}}}
    assert body["started_at"] and body["completed_at"]


def test_an_orchestrations_runs_are_listed_newest_first_in_pages(api):
    orchestration = OrchestrationFactory()
    other = OrchestrationFactory()
    runs = [
        OrchestrationRun.objects.create(orchestration=orchestration, definition={})
        for _ in range(3)
    ]
    OrchestrationRun.objects.create(orchestration=other, definition={})
    with CaptureQueriesContext(connection) as queries:
        page = api.get(f"{BASE}/orchestrations/{orchestration.pk}/runs", {"page_size": 2}).json()
    assert page["count"] == 3
    assert [row["id"] for row in page["results"]] == [runs[2].pk, runs[1].pk]
    assert page["next"]
    assert "calls" not in page["results"][0]
    assert len(queries) <= 6


def test_runs_can_be_listed_across_orchestrations_by_status(api):
    orchestration = OrchestrationFactory()
    OrchestrationRun.objects.create(orchestration=orchestration, definition={}, status="failed")
    OrchestrationRun.objects.create(orchestration=orchestration, definition={})
    page = api.get(f"{BASE}/orchestration-runs", {"status": "failed"}).json()
    assert page["count"] == 1
    assert page["results"][0]["orchestration_name"] == orchestration.name


def test_execute_with_wait_answers_202_when_the_run_is_not_done_in_time(api):
    orchestration = OrchestrationFactory()
    response = api.post(
        f"{BASE}/orchestrations/{orchestration.pk}/execute?wait=0.3", {}, format="json"
    )
    assert response.status_code == 202
    assert response.json()["status"] == "queued"
