"""From a failing workflow to a delivered alert, in-process: webhook, Slack and in-app channels,
retries with backoff, and the execution left as it was."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import AlertDelivery, Notification
from tests.alerts.conftest import FAILING_ACTIONS, SIGNING_SECRET, expected_signature
from tests.factories import AlertFactory, ConnectionFactory, UserFactory, WorkflowFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]


def webhook_alert(httpserver, **kwargs):
    connection = ConnectionFactory(
        platform="webhook",
        webhook_url=httpserver.url_for("/alert"),
        credentials={"signing_secret": SIGNING_SECRET},
    )
    return AlertFactory(channel="webhook", connection=connection, **kwargs)


def test_a_failing_workflow_with_a_webhook_alert_makes_one_signed_post_that_verifies(
    httpserver, run_execution, sent_deliveries, deliver
):
    httpserver.expect_request("/alert", method="POST").respond_with_data("", status=204)
    alert = webhook_alert(httpserver, events=["execution.failed"])
    workflow = WorkflowFactory(name="Nightly import", actions=FAILING_ACTIONS)

    execution = run_execution(workflow)
    assert execution.status == "failed"
    assert [countdown for _, countdown in sent_deliveries] == [0]
    assert deliver(sent_deliveries[0][0]) == "sent"

    assert len(httpserver.log) == 1
    request, _ = httpserver.log[0]
    given, computed = expected_signature(
        SIGNING_SECRET, request.headers["X-Signature"], request.data
    )
    assert given == computed
    body = request.get_json()
    assert body["severity"] == "critical"
    assert body["data"]["execution_id"] == execution.pk
    alert.refresh_from_db()
    assert (alert.trigger_count, alert.success_count, alert.failure_count) == (1, 1, 0)
    assert alert.last_triggered_at is not None


def test_the_message_names_the_workflow_execution_failing_step_error_and_link(
    httpserver, run_execution, sent_deliveries, settings, deliver
):
    settings.SITE_URL = "https://flows.example.com"
    httpserver.expect_request("/alert").respond_with_data("", status=200)
    webhook_alert(httpserver)
    execution = run_execution(WorkflowFactory(name="Nightly import", actions=FAILING_ACTIONS))
    deliver(sent_deliveries[0][0])

    body = httpserver.log[0][0].get_json()
    link = f"https://flows.example.com/dashboard/executions/{execution.pk}/"
    assert body["url"] == link
    assert "Nightly import" in body["title"]
    assert f"execution #{execution.pk}" in body["text"].lower()
    assert "step 'fetch'" in body["text"]
    assert "refused" in body["text"]  # the step's error
    assert body["data"]["step_id"] == "fetch"


def test_a_slack_alert_reaches_the_slack_stub(httpserver, run_execution, sent_deliveries, deliver):
    httpserver.expect_request("/services/T1/B1/X1", method="POST").respond_with_data("ok")
    slack = ConnectionFactory(
        platform="slack", webhook_url=httpserver.url_for("/services/T1/B1/X1")
    )
    alert = AlertFactory(channel="slack", connection=slack)
    execution = run_execution(WorkflowFactory(name="Publisher", actions=FAILING_ACTIONS))

    assert deliver(sent_deliveries[0][0]) == "sent"
    request, _ = httpserver.log[0]
    text = request.get_json()["text"]
    assert "Publisher" in text
    assert f"/dashboard/executions/{execution.pk}/" in text
    delivery = AlertDelivery.objects.get(alert=alert)
    assert (delivery.status, delivery.response_code, delivery.attempts) == ("sent", 200, 1)


def test_an_in_app_alert_notifies_its_recipients_and_nobody_else(
    run_execution, sent_deliveries, deliver
):
    editor, other = UserFactory(username="editor"), UserFactory(username="other")
    AlertFactory(channel="in_app", recipients=["editor"])
    run_execution(WorkflowFactory(actions=FAILING_ACTIONS))
    deliver(sent_deliveries[0][0])

    assert Notification.objects.filter(user=editor).count() == 1
    assert not Notification.objects.filter(user=other).exists()
    notification = Notification.objects.get(user=editor)
    assert notification.severity == "critical"
    assert "/dashboard/executions/" in notification.link


def test_an_in_app_alert_shows_in_the_recipients_notifications_and_not_in_anothers(
    api, plain_api, plain_user, run_execution, sent_deliveries, deliver
):
    AlertFactory(channel="in_app", recipients=[plain_user.username])
    execution = run_execution(WorkflowFactory(name="Nightly", actions=FAILING_ACTIONS))
    deliver(sent_deliveries[0][0])

    mine = plain_api.get("/api/workflow-orchestration/notifications").json()
    assert mine["unread_count"] == 1
    [notification] = mine["results"]
    assert notification["title"] == "Failed: workflow 'Nightly'"
    assert notification["link"].endswith(f"/dashboard/executions/{execution.pk}/")
    theirs = api.get("/api/workflow-orchestration/notifications").json()  # the staff user's
    assert (theirs["count"], theirs["unread_count"]) == (0, 0)


def test_ten_failures_inside_throttle_s_send_one_message_that_counts_ten(
    httpserver, run_execution, sent_deliveries, deliver
):
    httpserver.expect_request("/alert").respond_with_data("", status=200)
    alert = webhook_alert(httpserver, throttle_s=60)
    workflow = WorkflowFactory(name="Flaky feed", actions=FAILING_ACTIONS)
    for _ in range(10):
        run_execution(workflow)

    # One delivery waits for the window to close; the nine repeats are folded into it.
    assert len(sent_deliveries) == 1
    delivery_id, countdown = sent_deliveries[0]
    assert countdown == pytest.approx(60, abs=1)
    assert deliver(delivery_id) is None  # not due yet: nothing is sent early
    assert httpserver.log == []
    carrier = AlertDelivery.objects.get(pk=delivery_id)
    assert carrier.folded_count == 10
    assert AlertDelivery.objects.filter(status="throttled", folded_into=carrier).count() == 9

    assert deliver(delivery_id, after_s=61) == "sent"
    assert len(httpserver.log) == 1
    body = httpserver.log[0][0].get_json()
    assert body["title"] == "10 failures of workflow 'Flaky feed' in the last 60 s"
    assert body["data"]["count"] == 10
    alert.refresh_from_db()
    assert (alert.trigger_count, alert.success_count) == (10, 1)


def test_a_failure_after_the_window_was_sent_opens_a_new_window(
    httpserver, run_execution, sent_deliveries, deliver
):
    httpserver.expect_request("/alert").respond_with_data("", status=200)
    webhook_alert(httpserver, throttle_s=60)
    workflow = WorkflowFactory(actions=FAILING_ACTIONS)
    run_execution(workflow)
    deliver(sent_deliveries[0][0], after_s=61)
    run_execution(workflow)

    assert len(sent_deliveries) == 2
    second = AlertDelivery.objects.get(pk=sent_deliveries[1][0])
    assert (second.status, second.folded_count, second.is_open) == ("pending", 1, True)


def test_a_target_answering_500_is_retried_with_backoff_then_logged_failed(
    httpserver, run_execution, sent_deliveries, fast_retries, deliver
):
    httpserver.expect_request("/alert").respond_with_data("down", status=500)
    alert = webhook_alert(httpserver)
    execution = run_execution(WorkflowFactory(actions=FAILING_ACTIONS))
    before = execution.__class__.objects.filter(pk=execution.pk).values().get()
    delivery_id = sent_deliveries[0][0]

    statuses, clock = [], 0.0
    for _ in range(3):
        statuses.append(deliver(delivery_id, after_s=clock))
        delivery = AlertDelivery.objects.get(pk=delivery_id)
        if delivery.next_attempt_at:
            clock = (delivery.next_attempt_at - timezone.now()).total_seconds() + 0.01

    assert statuses == ["pending", "pending", "failed"]
    assert len(httpserver.log) == 3
    # Backoff doubles (0.05 s, then 0.1 s) and each wait rides on a broker countdown.
    assert [round(countdown, 2) for _, countdown in sent_deliveries[1:]] == [0.05, 0.1]
    delivery = AlertDelivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("failed", 3, 500)
    assert [entry["response_code"] for entry in delivery.attempt_log] == [500, 500, 500]
    assert "500" in delivery.error
    alert.refresh_from_db()
    assert (alert.success_count, alert.failure_count) == (0, 1)
    assert execution.__class__.objects.filter(pk=execution.pk).values().get() == before


def test_a_permanent_refusal_is_not_retried(httpserver, run_execution, sent_deliveries, deliver):
    httpserver.expect_request("/alert").respond_with_data("gone", status=410)
    webhook_alert(httpserver)
    run_execution(WorkflowFactory(actions=FAILING_ACTIONS))

    assert deliver(sent_deliveries[0][0]) == "failed"
    assert len(sent_deliveries) == 1  # no retry scheduled


def test_a_delivery_held_by_a_worker_is_not_sent_again_by_a_duplicate_message(
    httpserver, run_execution, sent_deliveries, deliver
):
    webhook_alert(httpserver)
    run_execution(WorkflowFactory(actions=FAILING_ACTIONS))
    delivery_id = sent_deliveries[0][0]
    AlertDelivery.objects.filter(pk=delivery_id).update(
        attempts=1, locked_until=timezone.now() + timedelta(seconds=60)
    )

    assert deliver(delivery_id) is None
    assert httpserver.log == []


def test_a_delivery_whose_worker_died_on_the_last_attempt_is_failed_not_looped(
    httpserver, run_execution, sent_deliveries, fast_retries, deliver
):
    webhook_alert(httpserver)
    run_execution(WorkflowFactory(actions=FAILING_ACTIONS))
    delivery_id = sent_deliveries[0][0]
    AlertDelivery.objects.filter(pk=delivery_id).update(
        attempts=3, locked_until=timezone.now() - timedelta(seconds=1)
    )

    assert deliver(delivery_id) == "failed"
    assert httpserver.log == []
    assert "gave up" in AlertDelivery.objects.get(pk=delivery_id).error


def test_the_webhook_url_and_signing_secret_never_appear_in_the_delivery_log(
    httpserver, run_execution, sent_deliveries, deliver
):
    httpserver.expect_request("/alert").respond_with_data("", status=200)
    webhook_alert(httpserver)
    run_execution(WorkflowFactory(actions=FAILING_ACTIONS))
    deliver(sent_deliveries[0][0])

    stored = str(AlertDelivery.objects.values("payload", "error", "attempt_log").get())
    assert SIGNING_SECRET not in stored
    assert httpserver.url_for("/alert") not in stored
