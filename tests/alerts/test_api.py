"""The alerts and notifications endpoints: CRUD with validation, test, deliveries, permissions."""

import pytest
from rest_framework.test import APIClient

from alerts.models import AlertDelivery, AutomationAlert
from tests.factories import (
    AlertFactory,
    ConnectionFactory,
    NotificationFactory,
    UserFactory,
    WorkflowFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]

BASE = "/api/workflow-orchestration"


def slack_connection(url: str = "https://hooks.slack.com/services/T/B/X"):
    return ConnectionFactory(platform="slack", webhook_url=url)


# --- alerts: create and validate ------------------------------------------------------------------


def test_staff_create_a_slack_alert_for_a_workflow(api):
    workflow, slack = WorkflowFactory(), slack_connection()
    response = api.post(
        f"{BASE}/alerts",
        {
            "name": "Import failures",
            "workflow": workflow.pk,
            "channel": "slack",
            "connection": slack.pk,
            "events": ["execution.failed", "step.failed"],
            "severity": "warning",
            "throttle_s": 60,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["workflow"] == workflow.pk
    assert body["events"] == ["execution.failed", "step.failed"]
    assert (body["trigger_count"], body["success_count"], body["failure_count"]) == (0, 0, 0)


def test_counters_are_read_only(api):
    alert = AlertFactory()
    response = api.patch(f"{BASE}/alerts/{alert.pk}", {"trigger_count": 99}, format="json")
    assert response.status_code == 200
    alert.refresh_from_db()
    assert alert.trigger_count == 0


def test_an_alert_without_events_listens_to_those_of_its_type(api):
    response = api.post(
        f"{BASE}/alerts",
        {"name": "Slow", "alert_type": "performance", "channel": "in_app"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["events"] == ["execution.slow"]


def test_a_slack_alert_without_a_connection_is_refused(api):
    response = api.post(f"{BASE}/alerts", {"name": "x", "channel": "slack"}, format="json")
    assert response.status_code == 400
    assert "needs a connection" in response.json()["connection"][0]


def test_a_slack_alert_with_a_telegram_connection_is_refused(api):
    telegram = ConnectionFactory(
        platform="telegram", webhook_url="", credentials={"bot_token": "t"}
    )
    response = api.post(
        f"{BASE}/alerts",
        {"name": "x", "channel": "slack", "connection": telegram.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "telegram connection" in response.json()["connection"][0]


def test_an_unknown_connection_is_refused_by_id(api):
    response = api.post(
        f"{BASE}/alerts", {"name": "x", "channel": "slack", "connection": 9999}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["connection"] == ["Unknown connection 9999."]


def test_an_email_alert_needs_valid_addresses(api):
    missing = api.post(f"{BASE}/alerts", {"name": "x", "channel": "email"}, format="json")
    assert missing.status_code == 400
    assert "recipients" in missing.json()
    bad = api.post(
        f"{BASE}/alerts",
        {"name": "x", "channel": "email", "recipients": ["ops@example.com", "nope"]},
        format="json",
    )
    assert bad.status_code == 400
    assert bad.json()["recipients"] == ["Not email addresses: nope."]


def test_an_in_app_alert_names_existing_users(api):
    UserFactory(username="editor")
    response = api.post(
        f"{BASE}/alerts",
        {"name": "x", "channel": "in_app", "recipients": ["editor", "ghost"]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["recipients"] == ["Unknown usernames: ghost."]


def test_an_unknown_event_or_channel_is_refused(api):
    response = api.post(
        f"{BASE}/alerts",
        {"name": "x", "channel": "pager", "events": ["execution.exploded"]},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"channel", "events"}


def test_an_update_is_validated_against_the_fields_it_keeps(api):
    alert = AlertFactory(channel="in_app")
    response = api.patch(f"{BASE}/alerts/{alert.pk}", {"channel": "webhook"}, format="json")
    assert response.status_code == 400
    assert "connection" in response.json()
    alert.refresh_from_db()
    assert alert.channel == "in_app"


def test_alerts_are_for_staff_only(plain_api):
    alert = AlertFactory()
    assert plain_api.get(f"{BASE}/alerts").status_code == 403
    assert plain_api.post(f"{BASE}/alerts/{alert.pk}/test").status_code == 403
    assert APIClient().get(f"{BASE}/alerts").status_code == 401


def test_listing_alerts_takes_a_fixed_number_of_queries(api, django_assert_max_num_queries):
    for _ in range(5):
        AlertFactory(workflow=WorkflowFactory())
    with django_assert_max_num_queries(5):
        response = api.get(f"{BASE}/alerts")
    assert response.json()["count"] == 5


# --- alerts: test and deliveries ------------------------------------------------------------------


def test_testing_a_slack_alert_posts_to_the_stub_now(api, httpserver):
    httpserver.expect_request("/services/T/B/X", method="POST").respond_with_data("ok")
    alert = AlertFactory(
        name="Ops",
        channel="slack",
        connection=slack_connection(httpserver.url_for("/services/T/B/X")),
    )
    response = api.post(f"{BASE}/alerts/{alert.pk}/test")
    assert response.status_code == 200
    assert response.json() == {"delivered": True, "detail": "ok"}
    assert "Test alert: Ops" in httpserver.log[0][0].get_json()["text"]
    alert.refresh_from_db()
    assert alert.success_count == 0  # a test is not a delivery


def test_a_test_that_the_target_refuses_says_why(api, httpserver):
    httpserver.expect_request("/services/T/B/X").respond_with_data("channel_is_archived", 410)
    alert = AlertFactory(
        channel="slack", connection=slack_connection(httpserver.url_for("/services/T/B/X"))
    )
    response = api.post(f"{BASE}/alerts/{alert.pk}/test")
    assert response.status_code == 200
    body = response.json()
    assert body["delivered"] is False
    assert "channel_is_archived" in body["detail"]
    assert httpserver.url_for("/services/T/B/X") not in body["detail"]


def test_deliveries_are_listed_newest_first_and_paginated(api):
    alert = AlertFactory()
    for n in range(3):
        AlertDelivery.objects.create(
            alert=alert, event="execution.failed", severity="critical", fold_key=f"k{n}"
        )
    AlertDelivery.objects.create(
        alert=AlertFactory(), event="execution.failed", severity="critical", fold_key="other"
    )
    response = api.get(f"{BASE}/alerts/{alert.pk}/deliveries?page_size=2")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["results"][0]["id"] > body["results"][1]["id"]


def test_deleting_an_alert_removes_it(api):
    alert = AlertFactory()
    assert api.delete(f"{BASE}/alerts/{alert.pk}").status_code == 204
    assert not AutomationAlert.objects.exists()


# --- notifications --------------------------------------------------------------------------------


def test_a_user_sees_only_their_own_notifications(plain_api, plain_user):
    mine = NotificationFactory(user=plain_user, title="Import failed")
    NotificationFactory(user=UserFactory(username="someone"))
    body = plain_api.get(f"{BASE}/notifications").json()
    assert [item["id"] for item in body["results"]] == [mine.pk]
    assert body["unread_count"] == 1


def test_staff_see_only_their_own_notifications_too(api, staff_user):
    NotificationFactory(user=UserFactory(username="someone"))
    body = api.get(f"{BASE}/notifications").json()
    assert (body["count"], body["unread_count"]) == (0, 0)


def test_unread_true_lists_only_unread_notifications(plain_api, plain_user):
    NotificationFactory(user=plain_user, is_read=True)
    unread = NotificationFactory(user=plain_user)
    body = plain_api.get(f"{BASE}/notifications?unread=true").json()
    assert [item["id"] for item in body["results"]] == [unread.pk]
    assert body["unread_count"] == 1
    assert plain_api.get(f"{BASE}/notifications?unread=maybe").status_code == 400


def test_marking_a_notification_read(plain_api, plain_user):
    notification = NotificationFactory(user=plain_user)
    response = plain_api.post(f"{BASE}/notifications/{notification.pk}/read")
    assert response.status_code == 200
    assert response.json()["is_read"] is True
    assert plain_api.get(f"{BASE}/notifications").json()["unread_count"] == 0


def test_another_users_notification_cannot_be_marked_read(plain_api):
    theirs = NotificationFactory(user=UserFactory(username="someone"))
    assert plain_api.post(f"{BASE}/notifications/{theirs.pk}/read").status_code == 404
    theirs.refresh_from_db()
    assert theirs.is_read is False


def test_anonymous_callers_get_no_notifications():
    assert APIClient().get(f"{BASE}/notifications").status_code == 401
