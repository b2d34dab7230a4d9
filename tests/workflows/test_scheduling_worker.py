"""Scheduling and concurrency limits with real Beat and worker processes."""

import itertools
import time

import pytest
from werkzeug import Response

from tests.conftest import wait_for
from workflows.models import AutomationExecution
from workflows.services.executions import execution_create
from workflows.services.workflows import workflow_create, workflow_set_active

pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("allow_loopback")]

ACTIONS = [
    {"id": "t", "type": "transform", "params": {"values": {"slot": "{{ trigger.scheduled_for }}"}}}
]


def fires_sent(*beats) -> int:
    return sum(beat.log_path.read_text().count("Sending due task workflow-") for beat in beats)


def test_two_beats_fire_each_slot_once_and_deactivating_stops_the_fires(start_worker, start_beat):
    workflow = workflow_create(
        data={"name": "Fast", "trigger": {"type": "schedule", "interval_s": 2}, "actions": ACTIONS}
    )
    start_worker()
    beats = start_beat(), start_beat()
    executions = AutomationExecution.objects.filter(workflow=workflow)
    wait_for(lambda: executions.filter(status="completed").count() >= 3, timeout_s=30)
    workflow_set_active(workflow=workflow, is_active=False)
    time.sleep(8)  # Beat re-reads its schedule every few seconds; in-flight fires land
    settled = executions.count()
    fires = fires_sent(*beats)
    time.sleep(4)
    assert executions.count() == settled
    assert fires_sent(*beats) == fires
    slots = list(executions.values_list("scheduled_for", flat=True))
    assert len(slots) == len(set(slots))
    # Two Beats ticking twice per slot: many more fires than executions, each slot ran once.
    assert fires > len(slots)
    completed = executions.filter(status="completed").first()
    assert completed.context["steps"]["t"]["slot"] == completed.scheduled_for.isoformat()


def slow_stub(httpserver, delay_s: float) -> str:
    def handler(request):
        time.sleep(delay_s)
        return Response("{}", 200, content_type="application/json")

    httpserver.expect_request("/slow").respond_with_handler(handler)
    return httpserver.url_for("/slow")


def overlapping(executions) -> bool:
    spans = [(e.started_at, e.completed_at) for e in executions]
    return any(a[0] < b[1] and b[0] < a[1] for a, b in itertools.combinations(spans, 2))


@pytest.mark.parametrize("limit", [{"max_concurrency": 1}, {"overlap_policy": "queue"}])
def test_max_concurrency_one_runs_five_triggers_one_at_a_time_in_order(
    start_worker, httpserver, limit
):
    url = slow_stub(httpserver, 0.3)
    actions = [{"id": "call", "type": "api_call", "params": {"url": url}}]
    limited = workflow_create(data={"name": "One at a time", "actions": actions, **limit})
    free = workflow_create(data={"name": "Free", "actions": actions})
    start_worker(concurrency=2)
    for _ in range(2):
        execution_create(workflow=free, trigger_type="manual")
    created = [execution_create(workflow=limited, trigger_type="manual")[0] for _ in range(5)]

    def all_finished():
        return not AutomationExecution.objects.exclude(status__in=["completed", "failed"]).exists()

    wait_for(all_finished, timeout_s=60, interval_s=0.2)
    runs = list(AutomationExecution.objects.filter(workflow=limited).order_by("started_at"))
    assert [run.status for run in runs] == ["completed"] * 5
    assert not overlapping(runs)
    assert [run.pk for run in runs] == [execution.pk for execution in created]
    # The worker does run two executions at once when no limit holds it back.
    assert overlapping(AutomationExecution.objects.filter(workflow=free))


def test_cancel_running_stops_the_run_under_way_and_runs_the_new_one(start_worker, httpserver):
    url = slow_stub(httpserver, 1.0)
    actions = [
        {"id": "first", "type": "api_call", "params": {"url": url}},
        {"id": "second", "type": "api_call", "params": {"url": url}},
    ]
    workflow = workflow_create(
        data={"name": "Latest wins", "overlap_policy": "cancel_running", "actions": actions}
    )
    start_worker()
    old, _ = execution_create(workflow=workflow, trigger_type="manual")
    wait_for(lambda: AutomationExecution.objects.get(pk=old.pk).status == "running", timeout_s=30)
    new, _ = execution_create(workflow=workflow, trigger_type="manual")

    def both_finished():
        finished = ["completed", "failed", "cancelled"]
        return AutomationExecution.objects.filter(status__in=finished).count() == 2

    wait_for(both_finished, timeout_s=60, interval_s=0.2)
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.status, new.status) == ("cancelled", "completed")
    assert old.steps.get(step_id="first").status == "completed"
    assert not old.steps.filter(step_id="second", status="completed").exists()
