"""End to end through a real Celery worker process, the configured broker and database."""

import threading

import pytest
from rest_framework.test import APIClient
from werkzeug import Response

from tests.conftest import wait_for
from workflows.models import AutomationExecution
from workflows.services.housekeeping import execution_sweep

pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("allow_loopback")]

BASE = "/api/workflow-orchestration"


def finished(execution_id: int) -> AutomationExecution | None:
    execution = AutomationExecution.objects.get(pk=execution_id)
    return execution if execution.is_finished else None


def test_a_three_step_workflow_created_over_the_api_runs_on_a_worker(api, start_worker, httpserver):
    httpserver.expect_request("/article").respond_with_json({"slug": "hello-world", "words": 420})
    httpserver.expect_request("/notify", method="POST").respond_with_json({"received": True})
    definition = {
        "name": "Three steps",
        "actions": [
            {"id": "fetch", "type": "api_call", "params": {"url": httpserver.url_for("/article")}},
            {
                "id": "notify",
                "type": "api_call",
                "params": {
                    "method": "POST",
                    "url": httpserver.url_for("/notify"),
                    "body": {
                        "slug": "{{ steps.fetch.body.slug }}",
                        "words": "{{ steps.fetch.body.words }}",
                    },
                },
            },
            {
                "id": "never",
                "type": "transform",
                "condition": "steps.fetch.body.words > 1000",
                "params": {"values": {"long": True}},
            },
        ],
    }
    workflow_id = api.post(f"{BASE}/workflows", definition, format="json").json()["id"]
    start_worker()
    response = api.post(f"{BASE}/workflows/{workflow_id}/execute", {}, format="json")
    assert response.status_code == 202
    execution = wait_for(lambda: finished(response.json()["execution_id"]))
    assert execution.status == "completed", execution.error_message
    detail = api.get(f"{BASE}/executions/{execution.pk}").json()
    assert [step["status"] for step in detail["steps"]] == ["completed", "completed", "skipped"]
    notify = next(request for request, _ in httpserver.log if request.path == "/notify")
    assert notify.get_json() == {"slug": "hello-world", "words": 420}


def test_a_target_answering_503_twice_then_200_completes_with_three_attempts(
    api, start_worker, httpserver
):
    responses = iter([Response("busy", 503), Response("busy", 503), Response("{}", 200)])
    httpserver.expect_request("/flaky").respond_with_handler(lambda request: next(responses))
    definition = {
        "name": "Flaky target",
        "actions": [
            {
                "id": "call",
                "type": "api_call",
                "params": {"url": httpserver.url_for("/flaky")},
                "retry": {"max_attempts": 3, "backoff": "exponential", "delay_s": 0.2},
            }
        ],
    }
    workflow_id = api.post(f"{BASE}/workflows", definition, format="json").json()["id"]
    start_worker()
    execution_id = api.post(f"{BASE}/workflows/{workflow_id}/execute", {}, format="json").json()[
        "execution_id"
    ]
    execution = wait_for(lambda: finished(execution_id))
    assert execution.status == "completed", execution.error_message
    step = execution.steps.get()
    assert step.attempts == 3
    assert len(httpserver.log) == 3


def test_killing_the_worker_between_steps_does_not_rerun_the_finished_step(
    api, start_worker, httpserver, settings
):
    settings.EXECUTION_REQUEUE_AFTER_S = 0
    arrived, release = threading.Event(), threading.Event()
    calls = {"first": 0, "second": 0}

    def first(request):
        calls["first"] += 1
        return Response("{}", 200, content_type="application/json")

    def second(request):
        calls["second"] += 1
        if calls["second"] == 1:
            arrived.set()
            release.wait(timeout=30)  # hold the first worker here until it is killed
        return Response("{}", 200, content_type="application/json")

    httpserver.expect_request("/first").respond_with_handler(first)
    httpserver.expect_request("/second").respond_with_handler(second)
    definition = {
        "name": "Survives a crash",
        "actions": [
            {"id": "first", "type": "api_call", "params": {"url": httpserver.url_for("/first")}},
            {
                "id": "second",
                "type": "api_call",
                "params": {"url": httpserver.url_for("/second")},
                "timeout_s": 2,
            },
        ],
    }
    workflow_id = api.post(f"{BASE}/workflows", definition, format="json").json()["id"]
    doomed = start_worker(EXECUTION_LEASE_S="1")
    execution_id = api.post(f"{BASE}/workflows/{workflow_id}/execute", {}, format="json").json()[
        "execution_id"
    ]
    assert arrived.wait(timeout=30)
    doomed.kill()
    release.set()
    start_worker(EXECUTION_LEASE_S="1")

    def recovered():
        execution_sweep()
        return finished(execution_id)

    execution = wait_for(recovered, timeout_s=60, interval_s=0.5)
    assert execution.status == "completed", execution.error_message
    assert calls == {"first": 1, "second": 2}
    keys = {
        request.headers["Idempotency-Key"]
        for request, _ in httpserver.log
        if request.path == "/second"
    }
    assert keys == {f"{execution_id}-second"}
    assert execution.steps.get(step_id="first").attempts == 1
    assert execution.attempt == 2


def test_the_api_is_served_to_anonymous_health_checks_while_workers_run(start_worker):
    start_worker()
    assert APIClient().get(f"{BASE}/health").status_code == 200
