"""The ``monitor`` action: URL checks and thresholds on the system's own metrics."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from werkzeug import Response

from analytics import selectors
from tests.factories import WorkflowFactory
from workflows.actions.registry import action_get
from workflows.engine import execution_run
from workflows.models import AutomationExecution
from workflows.services.executions import execution_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]

BASE = "/api/workflow-orchestration"


def monitor(params):
    """Run a one-step workflow with a monitor step; returns the step."""
    workflow = WorkflowFactory(actions=[{"id": "check", "type": "monitor", "params": params}])
    execution, _ = execution_create(workflow=workflow, trigger_type="manual", payload={})
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    return execution, execution.steps.get()


def past_executions(workflow, *statuses, minutes_ago=5, time_ms=100):
    created = timezone.now() - timedelta(minutes=minutes_ago)
    for status in statuses:
        execution = AutomationExecution.objects.create(
            workflow=workflow, trigger_type="manual", status=status, execution_time_ms=time_ms
        )
        AutomationExecution.objects.filter(pk=execution.pk).update(created_at=created)


def test_a_healthy_url_passes_with_status_and_latency(httpserver):
    httpserver.expect_request("/health").respond_with_json({"status": "ok"})
    execution, step = monitor(
        {"url": httpserver.url_for("/health"), "expect_status": 200, "contains": "ok"}
    )
    assert execution.status == "completed", execution.error_message
    assert step.output["ok"] is True
    assert step.output["status_code"] == 200
    assert step.output["latency_ms"] >= 0
    assert step.output["breaches"] == []


def test_a_slow_url_breaches_max_latency_and_fails_the_step(httpserver):
    def slow(request):
        time.sleep(0.3)
        return Response("ok")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    execution, step = monitor(
        {"url": httpserver.url_for("/slow"), "max_latency_ms": 100},
    )
    assert execution.status == "failed"
    assert step.status == "failed"
    assert step.attempts == 1
    assert "Monitor breached: latency" in step.error_message
    assert "over the 100 ms ceiling" in step.error_message
    report = step.output["response"]
    assert report["ok"] is False
    assert report["latency_ms"] >= 300
    assert report["breaches"][0].startswith("latency")


def test_a_wrong_status_and_missing_text_are_both_listed(httpserver):
    httpserver.expect_request("/page").respond_with_data("maintenance", status=503)
    _, step = monitor({"url": httpserver.url_for("/page"), "contains": "Welcome"})
    assert step.output["response"]["breaches"] == [
        "status 503, expected 2xx",
        "body does not contain 'Welcome'",
    ]


def test_an_unreachable_url_is_a_breach(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    _, step = monitor({"url": "http://127.0.0.1:9/"})
    assert step.status == "failed"
    assert "refused: 127.0.0.1 is a loopback address" in step.error_message


def test_a_workflow_failing_over_the_threshold_breaches():
    watched = WorkflowFactory()
    past_executions(watched, "failed", "failed", "failed", "completed")
    execution, step = monitor(
        {"metrics": {"workflow_id": watched.pk, "max_failure_rate": 0.5, "window_minutes": 60}}
    )
    assert execution.status == "failed"
    assert f"workflow {watched.pk} failure rate 75% is over 50%" in step.error_message
    assert step.output["response"]["metrics"] == {"failure_rate": 0.75}


def test_failures_outside_the_window_do_not_count():
    watched = WorkflowFactory()
    past_executions(watched, "failed", "failed", minutes_ago=120)
    past_executions(watched, "completed")
    execution, step = monitor(
        {"metrics": {"workflow_id": watched.pk, "max_failure_rate": 0.5, "window_minutes": 60}}
    )
    assert execution.status == "completed", execution.error_message
    assert step.output["metrics"] == {"failure_rate": 0.0}


def test_a_slow_workflow_and_a_long_queue_breach():
    watched = WorkflowFactory()
    past_executions(watched, "completed", "completed", time_ms=5000)
    past_executions(watched, "queued", "queued", "queued")
    _, step = monitor(
        {"metrics": {"workflow_id": watched.pk, "max_avg_time_ms": 1000, "max_queued": 2}}
    )
    breaches = step.output["response"]["breaches"]
    assert breaches == [
        f"workflow {watched.pk} average time 5000 ms is over 1000 ms over the last 60 min",
        "3 executions queued, over 2",
    ]


def test_the_queued_count_leaves_out_executions_waiting_for_a_retry():
    watched = WorkflowFactory()
    past_executions(watched, "queued", "queued")
    AutomationExecution.objects.filter(pk=watched.executions.first().pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    assert selectors.executions_queued_count() == 1


def test_no_finished_executions_means_no_failure_rate():
    watched = WorkflowFactory()
    past_executions(watched, "cancelled", "queued")
    assert selectors.workflow_failure_rate(workflow_id=watched.pk, window_minutes=60) is None
    assert selectors.workflow_avg_time_ms(workflow_id=watched.pk, window_minutes=60) is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "non_field_errors"),
        ({"metrics": {"max_failure_rate": 0.5}}, "metrics"),
        ({"metrics": {"workflow_id": 99999, "max_failure_rate": 0.5}}, "metrics"),
        ({"metrics": {"workflow_id": "{{ workflow.id }}", "max_failure_rate": 5}}, "metrics"),
        ({"metrics": {"workflow_id": "{{ workflow.id }}"}}, "metrics"),
        ({"metrics": {"max_queued": 1, "queue": 3}}, "metrics"),
        ({"max_latency_ms": 100, "metrics": {"max_queued": 1}}, "max_latency_ms"),
    ],
)
def test_monitor_params_are_validated(params, field):
    with pytest.raises(ValidationError) as raised:
        action_get("monitor").validate(params)
    assert field in raised.value.detail


def test_a_workflow_with_bad_monitor_params_is_refused_on_save(api):
    definition = {
        "name": "Watch",
        "workflow_type": "monitoring",
        "actions": [{"id": "check", "type": "monitor", "params": {"contains": "ok"}}],
    }
    response = api.post(f"{BASE}/workflows", definition, format="json")
    assert response.status_code == 400
    assert "contains" in response.json()["actions"]["0"]["params"]
