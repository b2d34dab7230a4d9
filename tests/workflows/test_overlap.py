"""Overlap policies: what a new execution does while another of the same workflow is under way."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import ExecutionFactory, WorkflowFactory
from workflows.engine import execution_claim
from workflows.models import AuditEntry, AutomationExecution
from workflows.services.executions import execution_create
from workflows.services.overlap import OverlapSkipped
from workflows.services.triggers import trigger_fire
from workflows.services.workflows import workflow_create

pytestmark = pytest.mark.django_db

BASE = "/api/workflow-orchestration"


def create(workflow, **kwargs):
    execution, _ = execution_create(workflow=workflow, trigger_type="manual", **kwargs)
    return execution


@pytest.mark.parametrize("status", ["queued", "running", "waiting"])
def test_skip_starts_nothing_while_a_run_is_queued_running_or_waiting(status):
    workflow = WorkflowFactory(overlap_policy="skip")
    under_way = ExecutionFactory(workflow=workflow, status=status)
    with pytest.raises(OverlapSkipped) as raised:
        create(workflow)
    assert raised.value.under_way_id == under_way.pk
    assert str(raised.value) == (
        f"Skipped: execution {under_way.pk} of this workflow is under way (overlap_policy skip)."
    )
    assert list(AutomationExecution.objects.values_list("pk", flat=True)) == [under_way.pk]


def test_skip_starts_the_run_when_the_earlier_ones_finished():
    workflow = WorkflowFactory(overlap_policy="skip")
    ExecutionFactory(workflow=workflow, status="completed")
    ExecutionFactory(workflow=workflow, status="failed")
    assert create(workflow).status == "queued"


def test_another_workflows_run_does_not_count():
    ExecutionFactory(status="running")
    assert create(WorkflowFactory(overlap_policy="skip")).status == "queued"


def test_cancel_running_cancels_every_run_under_way_and_starts_the_new_one():
    workflow = WorkflowFactory(overlap_policy="cancel_running", name="Sync")
    queued = ExecutionFactory(workflow=workflow, status="queued")
    live = timezone.now() + timedelta(minutes=5)
    running = ExecutionFactory(workflow=workflow, status="running", lease_expires_at=live)
    new = create(workflow)
    queued.refresh_from_db()
    running.refresh_from_db()
    assert new.status == "queued"
    assert queued.status == "cancelled"
    # A running one with a live lease stops before its next step, as any cancel asks.
    assert running.status == "running" and running.cancel_requested
    entries = AuditEntry.objects.filter(action="cancelled").order_by("object_id")
    assert [entry.object_id for entry in entries] == [str(queued.pk), str(running.pk)]
    assert {entry.actor["kind"] for entry in entries} == {"workflow"}
    assert {entry.actor["id"] for entry in entries} == {workflow.pk}


def test_cancel_new_records_the_new_run_cancelled_and_never_sends_it(
    django_capture_on_commit_callbacks,
):
    workflow = WorkflowFactory(
        overlap_policy="cancel_new",
        actions=[
            {"id": "a", "type": "transform", "params": {"values": {"x": 1}}},
            {"id": "b", "type": "transform", "params": {"values": {"y": 2}}},
        ],
    )
    under_way = ExecutionFactory(workflow=workflow, status="running")
    with django_capture_on_commit_callbacks() as callbacks:
        new = create(workflow)
    assert callbacks == []
    new.refresh_from_db()
    assert new.status == "cancelled" and new.completed_at is not None
    assert new.error_message == (
        f"Cancelled: execution {under_way.pk} of this workflow is under way "
        "(overlap_policy cancel_new)."
    )
    assert new.steps_total == 2 and new.dispatched_at is None and new.started_at is None
    under_way.refresh_from_db()
    assert under_way.status == "running"


def test_cancel_new_runs_normally_when_nothing_is_under_way(django_capture_on_commit_callbacks):
    workflow = WorkflowFactory(overlap_policy="cancel_new")
    with django_capture_on_commit_callbacks() as callbacks:
        new = create(workflow)
    assert new.status == "queued" and len(callbacks) == 1


def test_allow_runs_alongside():
    workflow = WorkflowFactory()
    ExecutionFactory(workflow=workflow, status="running")
    new = create(workflow)
    assert new.status == "queued" and not new.concurrency_limited


def test_queue_without_max_concurrency_runs_one_at_a_time():
    workflow = WorkflowFactory(overlap_policy="queue")
    first, second = create(workflow), create(workflow)
    assert first.concurrency_limited and second.concurrency_limited
    assert execution_claim(execution_id=first.pk, worker="w1") is not None
    assert execution_claim(execution_id=second.pk, worker="w2") is None


def test_queue_with_max_concurrency_runs_that_many_at_once():
    workflow = WorkflowFactory(overlap_policy="queue", max_concurrency=2)
    runs = [create(workflow) for _ in range(3)]
    claimed = [execution_claim(execution_id=run.pk, worker="w") for run in runs]
    assert [run is not None for run in claimed] == [True, True, False]


def test_a_publish_or_other_trigger_leaves_a_skipping_workflow_out_without_failing(caplog):
    skipping = workflow_create(
        data={"name": "Skips", "trigger": {"type": "event", "event": "e"}, "actions": []}
    )
    skipping.overlap_policy = "skip"
    skipping.save()
    ExecutionFactory(workflow=skipping, status="running")
    other = workflow_create(
        data={"name": "Runs", "trigger": {"type": "event", "event": "e"}, "actions": []}
    )
    started = trigger_fire(trigger_type="event", payload={})
    assert [execution.workflow_id for execution in started] == [other.pk]
    assert "Skipped: execution" in caplog.text


class TestTheCallerIsTold:
    def test_execute_answers_409_naming_the_run_under_way(self, api):
        workflow = WorkflowFactory(overlap_policy="skip")
        under_way = ExecutionFactory(workflow=workflow, status="queued")
        response = api.post(f"{BASE}/workflows/{workflow.pk}/execute", {}, format="json")
        assert response.status_code == 409
        assert response.json() == {
            "detail": f"Skipped: execution {under_way.pk} of this workflow is under way "
            "(overlap_policy skip)."
        }
        assert AutomationExecution.objects.count() == 1

    def test_an_event_whose_every_listener_skipped_answers_409(self, api):
        workflow = WorkflowFactory(
            overlap_policy="skip", trigger={"type": "event", "event": "deploy"}
        )
        ExecutionFactory(workflow=workflow, status="running")
        response = api.post(f"{BASE}/events", {"name": "deploy"}, format="json")
        assert response.status_code == 409
        assert response.json()["detail"].startswith("Skipped: execution")

    def test_a_webhook_delivery_answers_409(self, client):
        workflow = workflow_create(data={"name": "Hook", "trigger": {"type": "webhook"}})
        workflow.overlap_policy = "skip"
        workflow.save()
        ExecutionFactory(workflow=workflow, status="waiting")
        response = client.post(
            f"{BASE}/hooks/{workflow.webhook_token}",
            json.dumps({"n": 1}),
            content_type="application/json",
        )
        assert response.status_code == 409
        assert "(overlap_policy skip)" in response.json()["detail"]
