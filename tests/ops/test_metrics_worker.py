"""End to end: executions run by two worker processes, then one scrape that adds up."""

import time

import pytest
from django.db.models import Count
from werkzeug import Request, Response

from analytics.metrics import present
from tests.conftest import wait_for
from tests.factories import WorkflowFactory
from tests.ops.conftest import scrape
from workflows.models import (
    FINISHED_STATUSES,
    AutomationExecution,
    AutomationExecutionStep,
    TriggerType,
)
from workflows.services.executions import execution_create

pytestmark = pytest.mark.worker


def _slow_ok(request: Request) -> Response:
    time.sleep(0.2)  # long enough that the other worker takes the next execution meanwhile
    return Response('{"ok": true}', content_type="application/json")


def test_counters_scraped_after_two_workers_ran_the_executions_add_up_to_the_database(
    start_worker, threaded_httpserver, staff_client, monkeypatch
):
    threaded_httpserver.expect_request("/ok").respond_with_handler(_slow_ok)
    threaded_httpserver.expect_request("/missing").respond_with_data("no", status=404)
    fine = WorkflowFactory(
        name="fine",
        actions=[{"id": "get", "type": "api_call",
                  "params": {"url": threaded_httpserver.url_for("/ok")}}],
    )  # fmt: skip
    broken = WorkflowFactory(
        name="broken",
        actions=[
            {"id": "set", "type": "transform", "params": {"values": {"x": 1}}},
            {"id": "get", "type": "api_call",
             "params": {"url": threaded_httpserver.url_for("/missing")}},
        ],
    )  # fmt: skip
    workers = [start_worker(), start_worker()]
    for workflow in [fine] * 8 + [broken] * 4:
        execution_create(workflow=workflow, trigger_type=TriggerType.MANUAL, payload={})
    executions = AutomationExecution.objects.all()
    wait_for(lambda: executions.filter(status__in=FINISHED_STATUSES).count() == 12, timeout_s=60)

    monkeypatch.setattr(present, "WORKERS_INSPECT_TIMEOUT_S", 2.0)
    result = scrape(staff_client)

    by_status = {
        (row["workflow_id"], row["status"]): row["n"]
        for row in executions.values("workflow_id", "status").annotate(n=Count("pk")).order_by()
    }
    assert by_status == {(fine.pk, "completed"): 8, (broken.pk, "failed"): 4}
    for (workflow_id, status), count in by_status.items():
        labels = {"workflow_id": str(workflow_id), "status": status}
        assert result.value("workflows_executions_finished_total", **labels) == count
        assert result.value("workflows_recent_executions", **labels) == count
    assert result.value("workflows_executions_finished_total") == executions.count()
    assert result.value("workflows_recent_executions") == executions.count()
    steps = AutomationExecutionStep.objects.filter(status__in=["completed", "failed"])
    bucket = "workflows_recent_step_duration_seconds_bucket"
    assert result.value(bucket, le="+Inf") == steps.count() == 16
    assert result.value(bucket, action_type="api_call", le="+Inf") == 12
    assert result.value("workflows_recent_http_responses", status_class="2xx") == 8
    assert result.value("workflows_recent_http_responses", status_class="4xx") == 4
    assert result.value("workflows_executions_queued") == 0
    assert result.value("workflows_workers_alive") == 2
    for worker in workers:  # both processes really ran executions
        assert b"Task workflows.run_execution[" in worker.log_path.read_bytes()
