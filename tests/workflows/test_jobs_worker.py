"""Bulk replay and backfill through the real path: API → database → job messages on the broker →
a worker process starts the runs and runs them."""

import threading
from datetime import UTC, timedelta

import pytest
from django.utils import timezone
from werkzeug import Response

from tests.conftest import wait_for
from workflows.models import AutomationExecution, Job
from workflows.services.executions import execution_create
from workflows.services.workflows import workflow_create

pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("allow_loopback")]

BASE = "/api/workflow-orchestration"


def test_a_bulk_replay_resumes_each_failed_run_at_its_failed_step(api, start_worker, httpserver):
    calls = {"n": 0}
    lock = threading.Lock()

    def target(request):
        with lock:
            calls["n"] += 1
            down = calls["n"] <= 3
        # The target refuses the first three calls (a bad deploy), then is fixed.
        return Response("{}", 400 if down else 200, content_type="application/json")

    httpserver.expect_request("/publish").respond_with_handler(target)
    workflow = workflow_create(
        data={
            "name": "Publish",
            "actions": [
                {"id": "prepare", "type": "transform", "params": {"values": {"n": 1}}},
                {
                    "id": "post",
                    "type": "api_call",
                    "params": {"url": httpserver.url_for("/publish")},
                },
            ],
        }
    )
    start_worker()
    for _ in range(3):
        execution_create(workflow=workflow, trigger_type="manual")
    executions = AutomationExecution.objects.filter(workflow=workflow)
    wait_for(lambda: executions.filter(status="failed").count() == 3)
    response = api.post(f"{BASE}/executions/bulk-replay", {"workflow": workflow.pk}, format="json")
    assert response.status_code == 202, response.json()
    job_id = response.json()["job_id"]
    wait_for(lambda: Job.objects.get(pk=job_id).status == "completed")
    replays = AutomationExecution.objects.filter(job_id=job_id)
    wait_for(lambda: replays.filter(status="completed").count() == 3)
    assert calls["n"] == 6  # each replay called the target once more; nothing else did
    for replay in replays:
        assert replay.replay_from_step == "post"
        prepare = replay.steps.get(step_id="prepare")
        assert (prepare.status, prepare.attempts) == ("completed", 0)  # carried, not run
    progress = api.get(f"{BASE}/jobs/{job_id}").json()["progress"]
    assert (progress["started"], progress["executions"]["completed"]) == (3, 3)


def test_a_backfill_runs_each_past_slot_once_in_order(api, start_worker):
    workflow = workflow_create(
        data={
            "name": "Hourly digest",
            "trigger": {"type": "schedule"},
            "schedule": "0 * * * *",
            "actions": [
                {
                    "id": "t",
                    "type": "transform",
                    "params": {"values": {"slot": "{{ trigger.scheduled_for }}"}},
                }
            ],
        }
    )
    hour = timezone.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    start_worker()
    body = {
        "start": (hour - timedelta(hours=8)).isoformat(),
        "end": (hour - timedelta(hours=1)).isoformat(),
        "max_concurrency": 2,
    }
    response = api.post(f"{BASE}/workflows/{workflow.pk}/backfill", body, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["total"] == 8
    job_id = response.json()["job_id"]
    runs = AutomationExecution.objects.filter(job_id=job_id)
    wait_for(lambda: runs.filter(status="completed").count() == 8, timeout_s=60)
    assert Job.objects.get(pk=job_id).status == "completed"
    slots = list(runs.order_by("pk").values_list("scheduled_for", flat=True))
    assert slots == [hour - timedelta(hours=h) for h in range(8, 0, -1)]
    for run in runs:
        assert run.trigger_payload["backfill"] is True
        assert run.context["steps"]["t"]["slot"] == run.scheduled_for.isoformat()
