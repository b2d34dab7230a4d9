"""Composition (SPEC §11): the run_workflow action — a child run by id or name, waited for or
not, linked both ways, never started twice, nested at most TRIGGER_MAX_DEPTH — and workflow
triggers that start a workflow on another's outcome."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import WorkflowFactory
from workflows import events
from workflows.engine import execution_run
from workflows.models import AutomationExecution, KernelEvent
from workflows.services.executions import execution_create

pytestmark = pytest.mark.django_db

BASE = "/api/workflow-orchestration"
DOUBLE = [{"id": "double", "type": "transform", "params": {"values": {"n": "{{ trigger.n * 2 }}"}}}]
BROKEN = [{"id": "bad", "type": "transform", "params": {"values": {"n": "{{ trigger.a.b }}"}}}]


def calling(child_ref, *, wait=True, timeout_s=None, name="Parent"):
    params = {"workflow": child_ref, "payload": {"n": "{{ trigger.n }}"}, "wait": wait}
    if timeout_s is not None:
        params["timeout_s"] = timeout_s
    actions = [
        {"id": "call", "type": "run_workflow", "params": params},
        {
            "id": "after",
            "type": "transform",
            "params": {"values": {"got": "{{ steps.call.steps.double.n }}"}},
        },
    ]
    return WorkflowFactory(name=name, actions=actions if wait else actions[:1])


def run(execution: AutomationExecution) -> AutomationExecution:
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    return execution


def start(workflow, payload=None) -> AutomationExecution:
    execution, _ = execution_create(
        workflow=workflow, trigger_type="manual", payload=payload or {"n": 21}
    )
    return run(execution)


def child_of(parent: AutomationExecution) -> AutomationExecution:
    return AutomationExecution.objects.get(parent_execution=parent)


class TestRunWorkflow:
    def test_the_parent_waits_for_its_child_then_reads_its_outputs(
        self, django_capture_on_commit_callbacks
    ):
        child_workflow = WorkflowFactory(name="Double", actions=DOUBLE)
        parent = start(calling(child_workflow.pk))
        assert parent.status == "waiting"
        child = child_of(parent)
        assert (child.trigger_type, child.trigger_payload, child.parent_step_id) == (
            "workflow",
            {"n": 21},
            "call",
        )
        assert child.triggered_by == {"kind": "workflow", "name": "Parent", "id": parent.pk}
        assert child.context["depth"] == 1
        with django_capture_on_commit_callbacks(execute=False) as sent:
            run(child)
        parent.refresh_from_db()
        # The child's finish woke its parent: due now, and sent to a worker.
        assert parent.next_attempt_at <= timezone.now()
        assert any(getattr(c, "args", (None,))[0] == parent.pk for c in sent)
        parent = run(parent)
        assert parent.status == "completed", parent.error_message
        assert parent.context["steps"]["call"] == {
            "execution_id": child.pk,
            "status": "completed",
            "steps": {"double": {"n": 42}},
        }
        assert parent.context["steps"]["after"] == {"got": 42}

    def test_by_name_without_waiting_it_goes_on_at_once(self):
        WorkflowFactory(name="Double", actions=DOUBLE)
        parent = start(calling("Double", wait=False))
        assert parent.status == "completed", parent.error_message
        child = child_of(parent)
        assert parent.context["steps"]["call"] == {
            "execution_id": child.pk,
            "status": "queued",
            "steps": {},
        }

    def test_a_failed_child_fails_the_step_with_its_error(self):
        parent = start(calling(WorkflowFactory(actions=BROKEN).pk))
        run(child_of(parent))
        parent = run(parent)
        assert parent.status == "failed"
        assert f"Child execution {child_of(parent).pk} failed" in parent.error_message
        assert parent.steps.get(step_id="call").output["response"]["status"] == "failed"

    def test_a_child_not_finished_by_the_timeout_fails_the_step_and_goes_on(self):
        parent = start(calling(WorkflowFactory(actions=DOUBLE).pk, timeout_s=60))
        step = parent.steps.get(step_id="call")
        step.output = {
            **step.output,
            "deadline": (timezone.now() - timedelta(seconds=1)).isoformat(),
        }
        step.save()
        AutomationExecution.objects.filter(pk=parent.pk).update(next_attempt_at=timezone.now())
        parent = run(parent)
        assert parent.status == "failed"
        assert "did not finish in time" in parent.error_message
        assert child_of(parent).status == "queued"

    def test_a_waiting_parent_looks_again_even_if_no_wake_comes(self):
        parent = start(calling(WorkflowFactory(actions=DOUBLE).pk, timeout_s=3600))
        assert parent.next_attempt_at <= timezone.now() + timedelta(seconds=31)

    def test_a_redelivered_step_does_not_start_a_second_child(self):
        parent = start(calling(WorkflowFactory(actions=DOUBLE).pk))
        parent.steps.filter(step_id="call").update(status="running", output={})
        AutomationExecution.objects.filter(pk=parent.pk).update(
            status="running", lease_expires_at=timezone.now()
        )
        run(parent)
        assert AutomationExecution.objects.filter(parent_execution=parent).count() == 1

    def test_a_workflow_running_itself_stops_at_the_depth_limit(self, settings):
        settings.TRIGGER_MAX_DEPTH = 2
        recursive = WorkflowFactory(name="Again", actions=[])
        recursive.actions = [
            {
                "id": "again",
                "type": "run_workflow",
                "params": {"workflow": recursive.pk, "wait": False},
            }
        ]
        recursive.save()
        first = start(recursive)
        second = run(child_of(first))
        third = run(child_of(second))
        assert (first.status, second.status) == ("completed", "completed")
        assert third.status == "failed"
        assert "nest at most 2 deep" in third.error_message

    @pytest.mark.parametrize("reference", [999, "Nobody", "Off"])
    def test_an_unknown_or_inactive_workflow_fails_the_step(self, reference):
        WorkflowFactory(name="Off", is_active=False)
        parent = start(calling(reference))
        assert parent.status == "failed"
        assert AutomationExecution.objects.filter(parent_execution=parent).count() == 0

    def test_the_api_links_parent_and_child_both_ways(self, api):
        parent = start(calling(WorkflowFactory(actions=DOUBLE).pk))
        child = child_of(parent)
        assert api.get(f"{BASE}/executions/{parent.pk}").json()["children"] == [child.pk]
        detail = api.get(f"{BASE}/executions/{child.pk}").json()
        assert (detail["parent_execution"], detail["parent_step_id"]) == (parent.pk, "call")

    def test_a_definition_without_the_workflow_is_refused(self, api):
        body = {"name": "x", "actions": [{"id": "call", "type": "run_workflow", "params": {}}]}
        response = api.post(f"{BASE}/workflows", body, format="json")
        assert response.status_code == 400
        assert "workflow" in str(response.json()["actions"])


def follower(of, status=None, name="Follower"):
    trigger = {"type": "workflow", "workflow": of.pk}
    if status is not None:
        trigger["status"] = status
    seen = {"values": {"what": "{{ trigger.execution.status }}"}}
    return WorkflowFactory(
        name=name, trigger=trigger, actions=[{"id": "seen", "type": "transform", "params": seen}]
    )


@pytest.fixture
def heard(django_capture_on_commit_callbacks):
    """Run a workflow and let the outbox's subscribers hear its finish, as after a commit."""

    def run_and_hear(workflow):
        with django_capture_on_commit_callbacks(execute=True):
            return start(workflow)

    return run_and_hear


class TestWorkflowTrigger:
    def test_a_failure_starts_the_follower_with_the_outcome_once(self, heard):
        watched = WorkflowFactory(name="Publish", actions=BROKEN)
        on_failure = follower(watched, ["failed"])
        on_success = follower(watched, ["completed"], name="On success")
        failed = heard(watched)
        runs = AutomationExecution.objects.filter(workflow=on_failure)
        assert runs.count() == 1
        started = runs.get()
        assert started.trigger_type == "workflow"
        assert started.trigger_payload["workflow"] == {"id": watched.pk, "name": "Publish"}
        assert started.trigger_payload["execution"]["id"] == failed.pk
        assert started.trigger_payload["execution"]["status"] == "failed"
        assert started.triggered_by == {"kind": "workflow", "name": "Publish", "id": failed.pk}
        assert not AutomationExecution.objects.filter(workflow=on_success).exists()
        # Heard again (a retried event): still one run.
        events.event_process(
            event_id=KernelEvent.objects.create(
                name=events.EXECUTION_FINISHED,
                payload={"execution_id": failed.pk, "workflow_id": watched.pk, "status": "failed"},
            ).pk
        )
        assert runs.count() == 1
        assert run(started).context["steps"]["seen"] == {"what": "failed"}

    def test_without_status_any_outcome_starts_it(self, heard):
        watched = WorkflowFactory(actions=DOUBLE)
        any_outcome = follower(watched)
        heard(watched)
        assert AutomationExecution.objects.filter(workflow=any_outcome).count() == 1

    def test_nothing_is_recorded_when_no_workflow_follows(self):
        start(WorkflowFactory(actions=DOUBLE))
        assert not KernelEvent.objects.filter(name=events.EXECUTION_FINISHED).exists()

    def test_a_chain_of_followers_stops_at_the_depth_limit(
        self, settings, heard, caplog, django_capture_on_commit_callbacks
    ):
        settings.TRIGGER_MAX_DEPTH = 1
        first = WorkflowFactory(actions=DOUBLE)
        second = follower(first, name="Second")
        third = follower(second, name="Third")
        heard(first)
        second_run = AutomationExecution.objects.get(workflow=second)
        assert second_run.context["depth"] == 1
        with django_capture_on_commit_callbacks(execute=True):
            run(second_run)
        assert not AutomationExecution.objects.filter(workflow=third).exists()
        assert "chains nest at most 1 deep" in caplog.text

    @pytest.mark.parametrize(
        ("trigger", "field"),
        [
            ({"type": "workflow"}, "workflow"),
            ({"type": "workflow", "workflow": "Publish"}, "workflow"),
            ({"type": "workflow", "workflow": 1, "status": ["done"]}, "status"),
            ({"type": "workflow", "workflow": 1, "status": []}, "status"),
            ({"type": "manual", "workflow": 1}, "workflow"),
        ],
    )
    def test_a_bad_workflow_trigger_is_a_400_naming_the_field(self, api, trigger, field):
        body = {"name": "x", "trigger": trigger, "actions": DOUBLE}
        response = api.post(f"{BASE}/workflows", body, format="json")
        assert response.status_code == 400
        assert field in response.json()["trigger"]
