"""Dry runs, and the approval and wait steps that pause an execution without holding a worker."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import wait_for
from tests.factories import WorkflowFactory
from workflows.engine import execution_claim, execution_run
from workflows.models import AutomationExecution, AutomationExecutionStep
from workflows.services.executions import execution_create

BASE = "/api/workflow-orchestration"


def run(workflow, payload=None) -> AutomationExecution:
    execution, _ = execution_create(workflow=workflow, trigger_type="manual", payload=payload or {})
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    return execution


def make_due(execution: AutomationExecution) -> None:
    """As if the time the execution waits for had come."""
    past = timezone.now() - timedelta(seconds=1)
    AutomationExecution.objects.filter(pk=execution.pk).update(next_attempt_at=past)
    for step in execution.steps.filter(status="waiting"):
        for key in ("resume_at", "deadline"):
            if step.output.get(key):
                step.output[key] = past.isoformat()
        step.save()


@pytest.mark.django_db
class TestDryRun:
    def test_it_reports_each_step_without_sending_or_writing_anything(
        self, api, httpserver, allow_loopback
    ):
        actions = [
            {"id": "calc", "type": "transform", "params": {"values": {"n": "{{ trigger.n * 2 }}"}}},
            {
                "id": "post",
                "type": "api_call",
                "params": {
                    "method": "POST",
                    "url": httpserver.url_for("/x"),
                    "body": {"n": "{{ steps.calc.n }}"},
                },
            },
            {
                "id": "after",
                "type": "transform",
                "params": {"values": {"id": "{{ steps.post.body.id }}"}},
            },
            {
                "id": "big",
                "type": "transform",
                "condition": "steps.calc.n > 100",
                "params": {"values": {"x": 1}},
            },
            {
                "id": "broken",
                "type": "transform",
                "params": {"values": {"x": "{{ trigger.missing.deep }}"}},
            },
        ]
        workflow = WorkflowFactory(actions=actions)
        response = api.post(f"{BASE}/workflows/{workflow.pk}/dry-run", {"n": 21}, format="json")
        assert response.status_code == 200
        steps = {step["id"]: step for step in response.json()["steps"]}
        assert steps["calc"] == {
            "id": "calc",
            "type": "transform",
            "would": "run",
            "side_effects": False,
            "input": {"values": {"n": 42}},
            "output": {"n": 42},
        }
        assert steps["post"]["would"] == "run" and steps["post"]["side_effects"] is True
        assert steps["post"]["input"]["body"] == {"n": 42}
        assert steps["after"]["input"] == {
            "values": {"id": "<output of post.body.id, known at run time>"}
        }
        assert steps["big"]["would"] == "skip"
        assert steps["broken"]["would"] == "fail" and "undefined" in steps["broken"]["problems"][0]
        assert response.json()["would_fail"] is True
        assert len(httpserver.log) == 0
        assert AutomationExecution.objects.count() == 0
        assert AutomationExecutionStep.objects.count() == 0

    def test_a_dry_run_is_for_staff(self, plain_api):
        workflow = WorkflowFactory()
        assert (
            plain_api.post(f"{BASE}/workflows/{workflow.pk}/dry-run", {}, format="json").status_code
            == 403
        )


@pytest.mark.django_db
class TestWait:
    def test_a_wait_parks_the_execution_until_it_is_due(self):
        actions = [
            {"id": "pause", "type": "wait", "params": {"seconds": 120}},
            {"id": "after", "type": "transform", "params": {"values": {"done": True}}},
        ]
        execution = run(WorkflowFactory(actions=actions))
        assert execution.status == "waiting"
        assert execution.locked_by == "" and execution.lease_expires_at is None
        assert (
            timedelta(seconds=110)
            < execution.next_attempt_at - timezone.now()
            <= timedelta(seconds=120)
        )
        assert execution_claim(execution_id=execution.pk, worker="early") is None
        make_due(execution)
        execution_run(execution_id=execution.pk, worker="test")
        execution.refresh_from_db()
        assert execution.status == "completed"
        assert execution.context["steps"]["after"] == {"done": True}
        # The wait did not start counting again when it resumed.
        assert "waited_until" in execution.context["steps"]["pause"]

    def test_a_wait_until_a_time_in_the_past_goes_straight_on(self):
        past = (timezone.now() - timedelta(minutes=1)).isoformat()
        execution = run(
            WorkflowFactory(actions=[{"id": "w", "type": "wait", "params": {"until": past}}])
        )
        assert execution.status == "completed"

    def test_wait_needs_seconds_or_until(self, api):
        data = {"name": "w", "actions": [{"id": "w", "type": "wait", "params": {}}]}
        response = api.post(f"{BASE}/workflows", data, format="json")
        assert response.status_code == 400
        assert "actions" in response.json()


def approval_workflow(**params) -> object:
    actions = [
        {"id": "ok", "type": "approval", "params": {"message": "Publish it?", **params}},
        {"id": "after", "type": "transform", "params": {"values": {"done": True}}},
    ]
    return WorkflowFactory(actions=actions)


@pytest.mark.django_db
class TestApproval:
    def test_an_approval_waits_then_resumes_when_approved(self, api):
        execution = run(approval_workflow())
        assert execution.status == "waiting"
        assert execution.next_attempt_at is None
        response = api.post(
            f"{BASE}/executions/{execution.pk}/approve", {"comment": "go"}, format="json"
        )
        assert response.status_code == 202
        execution_run(execution_id=execution.pk, worker="test")
        execution.refresh_from_db()
        assert execution.status == "completed"
        decision = execution.context["steps"]["ok"]
        assert decision["approved"] is True
        assert (decision["decided_by"], decision["comment"]) == ("staff", "go")

    def test_a_rejection_fails_the_execution_with_the_comment(self, api):
        execution = run(approval_workflow())
        api.post(f"{BASE}/executions/{execution.pk}/reject", {"comment": "not yet"}, format="json")
        execution_run(execution_id=execution.pk, worker="test")
        execution.refresh_from_db()
        assert execution.status == "failed"
        assert "Rejected by staff: not yet" in execution.error_message

    def test_deciding_twice_or_on_a_running_execution_is_a_conflict(self, api):
        execution = run(approval_workflow())
        assert (
            api.post(f"{BASE}/executions/{execution.pk}/approve", {}, format="json").status_code
            == 202
        )
        assert (
            api.post(f"{BASE}/executions/{execution.pk}/reject", {}, format="json").status_code
            == 409
        )
        done = run(WorkflowFactory())
        assert (
            api.post(f"{BASE}/executions/{done.pk}/approve", {}, format="json").status_code == 409
        )

    def test_a_timeout_decides_with_the_chosen_outcome(self):
        execution = run(approval_workflow(timeout_s=60, timeout_outcome="approve"))
        assert execution.status == "waiting" and execution.next_attempt_at is not None
        make_due(execution)
        execution_run(execution_id=execution.pk, worker="test")
        execution.refresh_from_db()
        assert execution.status == "completed"
        assert execution.context["steps"]["ok"]["timed_out"] is True

    def test_a_waiting_execution_can_be_cancelled(self, api):
        execution = run(approval_workflow())
        response = api.post(f"{BASE}/executions/{execution.pk}/cancel")
        assert response.json()["status"] == "cancelled"

    def test_only_staff_decide(self, plain_api):
        execution = run(approval_workflow())
        assert (
            plain_api.post(
                f"{BASE}/executions/{execution.pk}/approve", {}, format="json"
            ).status_code
            == 403
        )

    def test_the_approvers_are_notified_once(self, staff_user):
        execution = run(approval_workflow(notify={"channel": "in_app", "recipients": ["staff"]}))
        assert execution.status == "waiting"
        assert staff_user.notifications.count() == 1
        assert execution.steps.get(step_id="ok").output["notified"] is True


@pytest.mark.worker
def test_an_approval_survives_a_worker_restart(api, start_worker):
    workflow = approval_workflow()
    first = start_worker()
    execution_id = api.post(f"{BASE}/workflows/{workflow.pk}/execute", {}, format="json").json()[
        "execution_id"
    ]
    wait_for(lambda: AutomationExecution.objects.get(pk=execution_id).status == "waiting")
    first.kill()
    start_worker()
    assert (
        api.post(f"{BASE}/executions/{execution_id}/approve", {}, format="json").status_code == 202
    )
    done = wait_for(
        lambda: AutomationExecution.objects.filter(pk=execution_id, status="completed").first()
    )
    assert done.context["steps"]["after"] == {"done": True}
