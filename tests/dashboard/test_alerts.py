"""The Alerts tab: rules with counters and a test button, the delivery log, the in-app
notification feed, and connections (create, verify) whose secrets are never shown."""

import json
import re

from alerts.models import AutomationAlert, Notification
from integrations.models import IntegrationConnection
from tests.dashboard.data import SECRET_TOKEN, SECRET_WEBHOOK, dashboard_data_seed
from tests.factories import (
    AlertDeliveryFactory,
    AlertFactory,
    ConnectionFactory,
    NotificationFactory,
    UserFactory,
    WorkflowFactory,
)


def test_the_tab_shows_rules_with_counters_deliveries_and_notifications(staff_client, staff_user):
    dashboard_data_seed(staff_user)
    page = staff_client.get("/dashboard/alerts/").content.decode()
    assert "Failures to staff" in page
    assert "<td>3</td>" in page and "<td>2</td>" in page  # triggered, sent
    assert "HTTP 500 from the hook" in page
    assert "Execution failed: Publish digest" in page
    assert ">1 unread<" in page


def test_no_secret_of_a_connection_is_ever_on_the_page(staff_client, staff_user):
    dashboard_data_seed(staff_user)
    page = staff_client.get("/dashboard/alerts/").content.decode()
    assert "Team Slack" in page
    assert SECRET_TOKEN not in page
    assert SECRET_WEBHOOK not in page
    assert "never-show-this" not in page


def test_the_test_button_sends_through_the_channel_and_says_what_happened(staff_client, staff_user):
    alert = AlertFactory(name="Ping staff", channel="in_app", recipients=["staff"])
    response = staff_client.post(f"/dashboard/alerts/{alert.pk}/test/", follow=True)
    assert "Test of “Ping staff”: delivered" in response.content.decode()
    assert Notification.objects.filter(user=staff_user, title="Test alert: Ping staff").exists()
    alert.refresh_from_db()
    assert alert.trigger_count == 0  # a test leaves the counters alone


def test_a_failed_test_is_reported_as_an_error(staff_client, allow_loopback, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("nope", status=500)
    connection = ConnectionFactory(platform="webhook", webhook_url=httpserver.url_for("/hook"))
    alert = AlertFactory(name="Hook", channel="webhook", connection=connection)
    response = staff_client.post(f"/dashboard/alerts/{alert.pk}/test/", follow=True)
    page = response.content.decode()
    assert "Test of “Hook”: not delivered" in page
    assert "message-error" in page
    assert httpserver.url_for("/hook") not in page


def test_the_alert_page_shows_its_whole_delivery_log(staff_client):
    alert = AlertFactory(name="Noisy")
    AlertDeliveryFactory(alert=alert, status="failed", error="timed out", attempts=5)
    AlertDeliveryFactory(alert=AlertFactory(), error="another alert's")
    page = staff_client.get(f"/dashboard/alerts/{alert.pk}/").content.decode()
    assert "timed out" in page and "another alert's" not in page


def test_marking_a_notification_read_lowers_the_unread_count(staff_client, staff_user):
    notification = NotificationFactory(user=staff_user, title="Hello")
    assert ">1 unread<" in staff_client.get("/dashboard/alerts/").content.decode()
    staff_client.post(f"/dashboard/notifications/{notification.pk}/read/")
    notification.refresh_from_db()
    assert notification.is_read
    assert ">0 unread<" in staff_client.get("/dashboard/alerts/").content.decode()


def test_mark_all_read_marks_only_the_users_own_notifications(staff_client, staff_user):
    NotificationFactory.create_batch(3, user=staff_user)
    other = NotificationFactory(user=UserFactory(username="someone"))
    assert "Mark all read" in staff_client.get("/dashboard/alerts/").content.decode()
    response = staff_client.post("/dashboard/notifications/read-all/", follow=True)
    page = response.content.decode()
    assert "Marked 3 notifications read." in page
    assert ">0 unread<" in page and "Mark all read" not in page
    assert not Notification.objects.filter(user=staff_user, is_read=False).exists()
    other.refresh_from_db()
    assert not other.is_read


def test_mark_all_read_is_for_staff_and_by_post_only(client, plain_client, staff_client):
    assert client.post("/dashboard/notifications/read-all/").status_code == 302
    assert plain_client.post("/dashboard/notifications/read-all/").status_code == 403
    assert staff_client.get("/dashboard/notifications/read-all/").status_code == 405


def test_a_notification_links_to_its_execution_by_its_dashboard_path(staff_client, staff_user):
    NotificationFactory(
        user=staff_user, title="Run failed", link="https://old-host.example/dashboard/executions/9/"
    )
    NotificationFactory(user=staff_user, title="Sneaky", link="javascript:alert(1)")
    page = staff_client.get("/dashboard/alerts/").content.decode()
    assert '<a class="break-word" href="/dashboard/executions/9/"><strong>Run failed' in page
    assert "javascript:" not in page
    assert '<strong class="break-word">Sneaky</strong>' in page


def test_another_users_notification_cannot_be_marked(staff_client):
    notification = NotificationFactory(user=UserFactory(username="someone"))
    response = staff_client.post(f"/dashboard/notifications/{notification.pk}/read/")
    assert response.status_code == 404
    notification.refresh_from_db()
    assert not notification.is_read


def test_a_connection_is_created_from_the_form(staff_client):
    response = staff_client.post(
        "/dashboard/connections/new/",
        {
            "name": "Bot",
            "platform": "telegram",
            "credentials": json.dumps({"bot_token": "1:abc"}),
            "config": json.dumps({"chat_id": "42"}),
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    connection = IntegrationConnection.objects.get()
    assert connection.credentials == {"bot_token": "1:abc"}
    assert connection.config == {"chat_id": "42"}


def test_a_refused_connection_shows_errors_by_field_and_not_the_secrets(staff_client):
    response = staff_client.post(
        "/dashboard/connections/new/",
        {
            "name": "Bot",
            "platform": "telegram",
            "credentials": json.dumps({"token": "secret-typed-in-0000"}),
            "config": json.dumps({"password": "in-config-0000"}),
        },
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "config" in errors
    page = response.content.decode()
    assert "secret-typed-in-0000" not in page
    assert not IntegrationConnection.objects.exists()


def test_a_missing_platform_field_is_shown_beside_credentials(staff_client):
    response = staff_client.post(
        "/dashboard/connections/new/",
        {"name": "Bot", "platform": "telegram", "config": json.dumps({"chat_id": "1"})},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["credentials"][0].startswith("bot_token")


def test_verify_records_and_shows_the_result(staff_client, allow_loopback, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_json({"ok": True})
    connection = ConnectionFactory(name="Hook", webhook_url=httpserver.url_for("/hook"))
    response = staff_client.post(f"/dashboard/connections/{connection.pk}/verify/", follow=True)
    page = response.content.decode()
    assert "“Hook” verified: ping accepted (200)" in page
    assert ">verified<" in page
    connection.refresh_from_db()
    assert connection.is_verified and connection.last_verified_at is not None


def test_a_failed_verify_shows_the_reason(staff_client, allow_loopback, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("gone", status=404)
    connection = ConnectionFactory(name="Hook", webhook_url=httpserver.url_for("/hook"))
    page = staff_client.post(
        f"/dashboard/connections/{connection.pk}/verify/", follow=True
    ).content.decode()
    assert "“Hook” not verified" in page and ">verify failed<" in page
    connection.refresh_from_db()
    assert not connection.is_verified


def alert_form_data(**overrides):
    data = {
        "name": "Failures to the team",
        "workflow": "",
        "alert_type": "failure",
        "events": ["execution.failed", "step.failed"],
        "channel": "in_app",
        "connection": "",
        "recipients": "",
        "severity": "warning",
        "throttle_s": "60",
        "slow_threshold_ms": "",
        "is_active": "on",
    }
    data.update(overrides)
    return data


def test_the_alert_form_shows_the_events_as_checkboxes(staff_client):
    page = staff_client.get("/dashboard/alerts/new/").content.decode()
    for event in ("execution.failed", "execution.completed", "step.failed", "connection.failed"):
        assert f'type="checkbox" name="events" value="{event}"' in page
    assert "<legend>Events</legend>" in page


def test_an_alert_rule_is_created_in_the_app(staff_client):
    workflow = WorkflowFactory(name="Digest")
    response = staff_client.post(
        "/dashboard/alerts/new/", alert_form_data(workflow=str(workflow.pk))
    )
    alert = AutomationAlert.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/alerts/{alert.pk}/"
    assert alert.events == ["execution.failed", "step.failed"]
    assert alert.workflow == workflow
    assert (alert.severity, alert.throttle_s, alert.recipients) == ("warning", 60, [])


def test_a_channel_error_appears_beside_its_field(staff_client):
    response = staff_client.post(
        "/dashboard/alerts/new/", alert_form_data(channel="email", recipients="")
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "recipients" in errors
    assert not AutomationAlert.objects.exists()
    page = response.content.decode()
    assert re.search(r'id="field-recipients".*?class="field-errors"', page, re.S)


def test_an_alert_rule_is_edited_in_the_app(staff_client, staff_user):
    alert = AlertFactory(name="Old", events=["execution.failed"], recipients=["staff"])
    page = staff_client.get(f"/dashboard/alerts/{alert.pk}/edit/").content.decode()
    assert re.search(r'value="execution.failed"[^>]*checked', page)
    assert not re.search(r'value="step.failed"[^>]*checked', page)
    assert "staff</textarea>" in page
    response = staff_client.post(
        f"/dashboard/alerts/{alert.pk}/edit/",
        alert_form_data(name="New", events=["execution.completed"], recipients="staff"),
    )
    assert response.status_code == 302
    alert.refresh_from_db()
    assert (alert.name, alert.events, alert.recipients) == (
        "New",
        ["execution.completed"],
        ["staff"],
    )


def test_the_alert_forms_are_for_staff_only(client, plain_client):
    alert = AlertFactory()
    for url in ("/dashboard/alerts/new/", f"/dashboard/alerts/{alert.pk}/edit/"):
        assert client.get(url).status_code == 302
        assert plain_client.get(url).status_code == 403
        assert plain_client.post(url, alert_form_data()).status_code == 403
