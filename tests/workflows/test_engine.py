"""The engine, run in-process: steps, conditions, templating, retries, failures, cancel, retry."""

import json

import pytest
from werkzeug import Response

from tests.factories import WorkflowFactory
from workflows.engine import Runner, StaleAttempt, execution_claim, execution_run
from workflows.models import AutomationExecution, StepStatus
from workflows.services.executions import (
    ExecutionConflict,
    execution_cancel,
    execution_create,
    execution_retry,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]


def run(workflow, payload=None) -> AutomationExecution:
    execution, _ = execution_create(workflow=workflow, trigger_type="manual", payload=payload or {})
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    return execution


def statuses(execution) -> list[str]:
    return list(execution.steps.order_by("step_index").values_list("status", flat=True))


def test_it_runs_steps_in_order_with_templating_and_a_false_condition(httpserver):
    httpserver.expect_request("/one").respond_with_json({"token": "abc", "n": 7})
    httpserver.expect_request(
        "/two", method="POST", json={"token": "abc", "n": 7}
    ).respond_with_json({"ok": True})
    workflow = WorkflowFactory(
        actions=[
            {"id": "one", "type": "api_call", "params": {"url": httpserver.url_for("/one")}},
            {
                "id": "two",
                "type": "api_call",
                "params": {
                    "method": "POST",
                    "url": httpserver.url_for("/two"),
                    "body": {"token": "{{ steps.one.body.token }}", "n": "{{ steps.one.body.n }}"},
                },
            },
            {
                "id": "three",
                "type": "transform",
                "condition": "steps.one.body.n > 100",
                "params": {"values": {"x": 1}},
            },
        ]
    )
    execution = run(workflow)
    assert execution.status == "completed", execution.error_message
    assert statuses(execution) == ["completed", "completed", "skipped"]
    assert execution.steps_completed == 3
    assert execution.context["steps"]["two"]["body"] == {"ok": True}
    workflow.refresh_from_db()
    assert (workflow.run_count, workflow.success_count, workflow.last_status) == (1, 1, "completed")


def test_each_request_carries_the_steps_idempotency_key(httpserver):
    httpserver.expect_request("/x").respond_with_json({})
    workflow = WorkflowFactory(
        actions=[{"id": "call", "type": "api_call", "params": {"url": httpserver.url_for("/x")}}]
    )
    execution = run(workflow)
    request, _ = httpserver.log[0]
    assert request.headers["Idempotency-Key"] == f"{execution.pk}-call"


def test_it_retries_a_503_then_completes(httpserver):
    responses = iter([Response("busy", 503), Response("busy", 503), Response("{}", 200)])
    httpserver.expect_request("/flaky").respond_with_handler(lambda request: next(responses))
    workflow = WorkflowFactory(
        actions=[
            {
                "id": "call",
                "type": "api_call",
                "params": {"url": httpserver.url_for("/flaky")},
                "retry": {"max_attempts": 3, "backoff": "fixed", "delay_s": 0},
            }
        ]
    )
    execution = run(workflow)
    assert execution.status == "queued"
    assert statuses(execution) == ["retrying"]
    for _ in range(2):
        execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    assert execution.status == "completed"
    step = execution.steps.get()
    assert (step.status, step.attempts) == ("completed", 3)
    keys = {request.headers["Idempotency-Key"] for request, _ in httpserver.log}
    assert keys == {f"{execution.pk}-call"}


def test_a_retry_waits_in_the_database_not_in_a_worker(httpserver):
    httpserver.expect_request("/down").respond_with_data("down", status=502)
    workflow = WorkflowFactory(
        actions=[
            {
                "id": "call",
                "type": "api_call",
                "params": {"url": httpserver.url_for("/down")},
                "retry": {"max_attempts": 2, "delay_s": 120},
            }
        ]
    )
    execution = run(workflow)
    assert execution.status == "queued"
    assert execution.next_attempt_at is not None
    assert execution_claim(execution_id=execution.pk, worker="early") is None


def test_a_400_fails_at_once_with_the_status_in_the_error(httpserver):
    httpserver.expect_request("/bad").respond_with_json({"error": "nope"}, status=400)
    workflow = WorkflowFactory(
        actions=[
            {
                "id": "call",
                "type": "api_call",
                "params": {"url": httpserver.url_for("/bad")},
                "retry": {"max_attempts": 3, "delay_s": 0},
            },
            {"id": "after", "type": "transform", "params": {"values": {"x": 1}}},
        ]
    )
    execution = run(workflow)
    assert execution.status == "failed"
    assert "HTTP 400" in execution.error_message
    assert "'call'" in execution.error_message
    step = execution.steps.get(step_id="call")
    assert (step.status, step.attempts) == ("failed", 1)
    assert not execution.steps.filter(step_id="after").exists()
    workflow.refresh_from_db()
    assert (workflow.failure_count, workflow.last_status) == (1, "failed")


def test_a_refused_address_fails_with_a_clear_message_and_sends_nothing(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    workflow = WorkflowFactory(
        actions=[
            {
                "id": "meta",
                "type": "api_call",
                "params": {"url": "http://169.254.169.254/latest/meta-data/"},
                "retry": {"max_attempts": 3, "delay_s": 0},
            }
        ]
    )
    execution = run(workflow)
    assert execution.status == "failed"
    assert "169.254.169.254" in execution.error_message
    assert "refused" in execution.error_message
    assert execution.steps.get().attempts == 1


def test_continue_on_failure_goes_on_to_the_next_step(httpserver):
    httpserver.expect_request("/bad").respond_with_data("x", status=404)
    workflow = WorkflowFactory(
        actions=[
            {
                "id": "call",
                "type": "api_call",
                "params": {"url": httpserver.url_for("/bad")},
                "continue_on_failure": True,
            },
            {"id": "after", "type": "transform", "params": {"values": {"ok": True}}},
        ]
    )
    execution = run(workflow)
    assert execution.status == "completed"
    assert statuses(execution) == ["failed", "completed"]


def test_an_undefined_template_value_fails_the_step_permanently():
    workflow = WorkflowFactory(
        actions=[
            {"id": "t", "type": "transform", "params": {"values": {"x": "{{ steps.nope.y }}"}}}
        ]
    )
    execution = run(workflow)
    assert execution.status == "failed"
    assert "undefined" in execution.error_message


def test_a_completed_execution_is_not_claimed_again():
    execution = run(WorkflowFactory())
    assert execution.status == "completed"
    assert execution_claim(execution_id=execution.pk, worker="again") is None


def test_a_stale_attempt_cannot_overwrite_a_newer_one():
    workflow = WorkflowFactory()
    execution, _ = execution_create(workflow=workflow, trigger_type="manual")
    first = execution_claim(execution_id=execution.pk, worker="a")
    assert first is not None
    AutomationExecution.objects.filter(pk=execution.pk).update(lease_expires_at="2000-01-01T00:00Z")
    second = execution_claim(execution_id=execution.pk, worker="b")
    assert second is not None and second.attempt == first.attempt + 1
    with pytest.raises(StaleAttempt):
        Runner(first).run()
    execution.refresh_from_db()
    assert (execution.status, execution.locked_by) == ("running", "b")
    assert not execution.steps.exists()


def test_cancel_of_a_queued_execution_is_immediate():
    execution, _ = execution_create(workflow=WorkflowFactory(), trigger_type="manual")
    execution_cancel(execution=execution)
    execution.refresh_from_db()
    assert execution.status == "cancelled"
    execution_run(execution_id=execution.pk, worker="test")
    assert not execution.steps.exists()


def test_cancel_of_a_running_execution_stops_before_the_next_step():
    workflow = WorkflowFactory(
        actions=[
            {"id": "a", "type": "transform", "params": {"values": {"x": 1}}},
            {"id": "b", "type": "transform", "params": {"values": {"x": 2}}},
        ]
    )
    execution, _ = execution_create(workflow=workflow, trigger_type="manual")
    claimed = execution_claim(execution_id=execution.pk, worker="test")
    execution_cancel(execution=claimed)
    Runner(claimed).run()
    execution.refresh_from_db()
    assert execution.status == "cancelled"
    with pytest.raises(ExecutionConflict):
        execution_cancel(execution=execution)


def test_retry_resumes_from_the_failed_step_keeping_completed_outputs(httpserver):
    outcomes = iter([Response("no", 400), Response(json.dumps({"v": 2}), 200)])
    httpserver.expect_request("/once").respond_with_json({"v": 1})
    httpserver.expect_request("/twice").respond_with_handler(lambda request: next(outcomes))
    workflow = WorkflowFactory(
        actions=[
            {"id": "first", "type": "api_call", "params": {"url": httpserver.url_for("/once")}},
            {"id": "second", "type": "api_call", "params": {"url": httpserver.url_for("/twice")}},
        ]
    )
    execution = run(workflow)
    assert execution.status == "failed"
    execution_retry(execution=execution)
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    assert execution.status == "completed"
    assert statuses(execution) == ["completed", "completed"]
    paths = [request.path for request, _ in httpserver.log]
    assert paths == ["/once", "/twice", "/twice"]
    with pytest.raises(ExecutionConflict):
        execution_retry(execution=execution)


def test_an_execution_redelivered_too_often_fails_with_a_clear_error(settings):
    settings.EXECUTION_MAX_DELIVERIES = 2
    execution, _ = execution_create(workflow=WorkflowFactory(), trigger_type="manual")
    AutomationExecution.objects.filter(pk=execution.pk).update(deliveries=2)
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    assert execution.status == "failed"
    assert "deliveries" in execution.error_message


def test_the_workflow_average_moves_with_each_finished_run():
    workflow = WorkflowFactory()
    for _ in range(3):
        run(workflow)
    workflow.refresh_from_db()
    assert workflow.run_count == 3
    assert workflow.success_count == 3
    assert workflow.avg_execution_time_ms >= 0
    assert StepStatus.COMPLETED in statuses(workflow.executions.first())


def test_steps_without_side_effects_are_saved_together(django_assert_max_num_queries):
    actions = [
        {"id": f"t{i}", "type": "transform", "params": {"values": {"i": i}}} for i in range(10)
    ]
    execution, _ = execution_create(
        workflow=WorkflowFactory(actions=actions), trigger_type="manual"
    )
    with django_assert_max_num_queries(12):
        execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    assert execution.status == "completed"
    assert execution.steps.count() == 10
    assert execution.context["steps"]["t9"] == {"i": 9}


def test_a_step_with_side_effects_is_recorded_running_before_it_runs(monkeypatch):
    from workflows.actions.api_call import ApiCallAction

    seen = []

    def run(self, params, step):
        execution = AutomationExecution.objects.get(pk=step.execution_id)
        seen.append(list(execution.steps.values_list("step_id", "status")))
        return {"status_code": 200}

    monkeypatch.setattr(ApiCallAction, "run", run)
    actions = [
        {"id": "pure", "type": "transform", "params": {"values": {"x": 1}}},
        {"id": "call", "type": "api_call", "params": {"url": "https://example.com/x"}},
    ]
    execution, _ = execution_create(
        workflow=WorkflowFactory(actions=actions), trigger_type="manual"
    )
    execution_run(execution_id=execution.pk, worker="test")
    assert seen == [[("pure", "completed"), ("call", "running")]]
