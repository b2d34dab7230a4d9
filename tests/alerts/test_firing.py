"""Which alerts hear which events: scope, severity, slowness, activity; and what they record."""

from datetime import timedelta

import pytest
from django.utils import timezone
from werkzeug import Response

from alerts.models import AlertDelivery
from alerts.services.deliveries import delivery_sweep
from alerts.services.firing import alerts_fire_for_execution, alerts_fire_for_step
from integrations.services import connection_verify
from tests.alerts.conftest import FAILING_ACTIONS
from tests.factories import AlertFactory, ConnectionFactory, WorkflowFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]

OK_ACTIONS = [{"id": "set", "type": "transform", "params": {"values": {"x": 1}}}]


def events_of(alert) -> list[str]:
    return list(AlertDelivery.objects.filter(alert=alert).values_list("event", flat=True))


def test_a_workflow_alert_hears_its_own_workflow_and_not_others(run_execution, sent_deliveries):
    watched, other = (
        WorkflowFactory(actions=FAILING_ACTIONS),
        WorkflowFactory(actions=FAILING_ACTIONS),
    )
    alert = AlertFactory(workflow=watched)
    run_execution(other)
    assert events_of(alert) == []
    run_execution(watched)
    assert events_of(alert) == ["execution.failed"]


def test_a_global_alert_hears_every_workflow(run_execution, sent_deliveries):
    alert = AlertFactory(workflow=None)
    run_execution(WorkflowFactory(actions=FAILING_ACTIONS))
    run_execution(WorkflowFactory(actions=FAILING_ACTIONS))
    assert events_of(alert) == ["execution.failed", "execution.failed"]


def test_an_inactive_alert_hears_nothing(run_execution, sent_deliveries):
    alert = AlertFactory(is_active=False)
    run_execution(WorkflowFactory(actions=FAILING_ACTIONS))
    assert events_of(alert) == []
    assert sent_deliveries == []


def test_a_step_failure_is_a_warning_heard_by_warning_alerts_but_not_critical_ones(
    run_execution, sent_deliveries
):
    warning = AlertFactory(events=["step.failed"], severity="warning")
    critical = AlertFactory(events=["step.failed"], severity="critical")
    run_execution(WorkflowFactory(actions=FAILING_ACTIONS))
    assert events_of(warning) == ["step.failed"]
    assert events_of(critical) == []
    delivery = AlertDelivery.objects.get(alert=warning)
    assert (delivery.severity, delivery.payload["step_id"]) == ("warning", "fetch")


def test_a_completed_execution_is_heard_by_success_alerts_only(run_execution, sent_deliveries):
    success = AlertFactory(alert_type="success", events=["execution.completed"])
    failure = AlertFactory(events=["execution.failed"])
    execution = run_execution(WorkflowFactory(actions=OK_ACTIONS))
    assert execution.status == "completed"
    assert events_of(success) == ["execution.completed"]
    assert events_of(failure) == []


def test_execution_slow_fires_only_above_the_alerts_threshold(sent_deliveries):
    workflow = WorkflowFactory()
    strict = AlertFactory(events=["execution.slow"], slow_threshold_ms=1000)
    lenient = AlertFactory(events=["execution.slow"], slow_threshold_ms=10_000)
    alerts_fire_for_execution(
        execution_id=1, workflow_id=workflow.pk, status="completed", error="",
        execution_time_ms=2500,
    )  # fmt: skip
    assert events_of(strict) == ["execution.slow"]
    assert events_of(lenient) == []
    payload = AlertDelivery.objects.get(alert=strict).payload
    assert (payload["execution_time_ms"], payload["threshold_ms"]) == (2500, 1000)


def test_execution_slow_defaults_to_the_setting(sent_deliveries, settings):
    settings.ALERT_SLOW_THRESHOLD_MS = 100
    alert = AlertFactory(events=["execution.slow"])
    alerts_fire_for_execution(
        execution_id=1, workflow_id=WorkflowFactory().pk, status="failed", error="x",
        execution_time_ms=101,
    )  # fmt: skip
    assert events_of(alert) == ["execution.slow"]


def test_a_cancelled_execution_raises_no_alert(sent_deliveries):
    alert = AlertFactory(events=["execution.failed", "execution.completed", "execution.slow"])
    alerts_fire_for_execution(
        execution_id=1, workflow_id=WorkflowFactory().pk, status="cancelled", error="Cancelled.",
        execution_time_ms=10**9,
    )  # fmt: skip
    assert events_of(alert) == []


def test_a_connection_that_fails_verification_raises_a_connection_alert(
    httpserver, sent_deliveries, django_capture_on_commit_callbacks
):
    httpserver.expect_request("/hook").respond_with_data("nope", status=500)
    alert = AlertFactory(alert_type="connection", events=["connection.failed"])
    scoped = AlertFactory(events=["connection.failed"], workflow=WorkflowFactory())
    connection = ConnectionFactory(name="Team hook", webhook_url=httpserver.url_for("/hook"))
    with django_capture_on_commit_callbacks(execute=True):
        outcome = connection_verify(connection=connection)
    assert outcome["is_verified"] is False
    assert events_of(scoped) == []  # connections belong to no workflow: global alerts only
    delivery = AlertDelivery.objects.get(alert=alert)
    assert delivery.payload["connection"] == {
        "id": connection.pk,
        "name": "Team hook",
        "platform": "webhook",
    }
    assert "500" in delivery.payload["error"]


def test_secrets_of_connections_the_execution_uses_are_redacted_from_the_payload(
    sent_deliveries,
):
    canary = "xoxb-canary-5e1d0c7b"
    slack = ConnectionFactory(platform="slack", webhook_url="", credentials={"token": canary})
    workflow = WorkflowFactory(
        actions=[
            {
                "id": "tell",
                "type": "notify",
                "params": {"channel": "slack", "connection": slack.pk, "message": "hi"},
            }
        ]
    )
    execution = workflow.executions.create(
        trigger_type="manual", definition={"actions": workflow.actions}
    )
    alert = AlertFactory(events=["step.failed"], severity="warning")
    alerts_fire_for_step(
        execution_id=execution.pk, workflow_id=workflow.pk, step_id="tell", step_type="notify",
        error=f"Slack said invalid_auth for token {canary}",
    )  # fmt: skip
    payload = AlertDelivery.objects.get(alert=alert).payload
    assert canary not in str(payload)
    assert "[redacted]" in payload["error"]


def test_a_window_longer_than_a_countdown_is_left_to_the_sweep(run_execution, sent_deliveries):
    alert = AlertFactory(throttle_s=3600)
    run_execution(WorkflowFactory(actions=FAILING_ACTIONS))
    assert sent_deliveries == []
    delivery = AlertDelivery.objects.get(alert=alert)
    assert delivery.dispatched_at is None
    assert delivery_sweep() == 0  # not due yet
    later = timezone.now() + timedelta(seconds=3601)
    assert delivery_sweep(now=later) == 1


def test_the_sweep_resends_a_due_delivery_whose_message_was_lost(
    run_execution, sent_deliveries, django_capture_on_commit_callbacks, settings
):
    AlertFactory()
    run_execution(WorkflowFactory(actions=FAILING_ACTIONS))
    delivery_id = sent_deliveries[0][0]
    now = timezone.now()
    AlertDelivery.objects.filter(pk=delivery_id).update(dispatched_at=now - timedelta(minutes=5))
    # The sweep presumes a message lost once it has seen it gone for the whole grace period.
    assert delivery_sweep(now=now) == 0
    later = now + timedelta(seconds=settings.EXECUTION_REQUEUE_AFTER_S + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery_sweep(now=later) == 1
    assert sent_deliveries[-1] == (delivery_id, None)


def test_a_failing_subscriber_never_changes_the_execution(run_execution, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("alerts are down")

    monkeypatch.setattr("alerts.services.firing.alerts_listening", broken)
    AlertFactory()
    execution = run_execution(WorkflowFactory(actions=FAILING_ACTIONS))
    assert execution.status == "failed"
    assert execution.error_message.startswith("Step 'fetch' failed")
    assert not AlertDelivery.objects.exists()


def test_a_stub_that_recovers_after_a_503_delivers_on_the_second_attempt(
    httpserver, run_execution, sent_deliveries, deliver, fast_retries
):
    answers = iter([Response("busy", 503), Response("", 200)])
    httpserver.expect_request("/hook").respond_with_handler(lambda request: next(answers))
    connection = ConnectionFactory(webhook_url=httpserver.url_for("/hook"))
    alert = AlertFactory(channel="webhook", connection=connection)
    run_execution(WorkflowFactory(actions=FAILING_ACTIONS))
    delivery_id = sent_deliveries[0][0]
    assert deliver(delivery_id) == "pending"
    assert deliver(delivery_id, after_s=1) == "sent"
    alert.refresh_from_db()
    assert (alert.success_count, alert.failure_count) == (1, 0)
    log = AlertDelivery.objects.get(pk=delivery_id).attempt_log
    assert [entry["ok"] for entry in log] == [False, True]
