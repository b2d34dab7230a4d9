"""The admin pages of alerts, deliveries and notifications, and the "Send test" action."""

import pytest
from django.test import Client

from alerts.models import AlertDelivery
from tests.factories import AlertFactory, ConnectionFactory, NotificationFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]


@pytest.fixture
def admin_client_() -> Client:
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def test_the_alert_page_shows_counters_and_recent_deliveries(admin_client_):
    alert = AlertFactory(name="Import failures")
    for n in range(25):
        AlertDelivery.objects.create(
            alert=alert, event="execution.failed", severity="critical", fold_key=f"k{n}",
            error=f"error number {n}",
        )  # fmt: skip
    listing = admin_client_.get("/admin/alerts/automationalert/")
    assert listing.status_code == 200
    assert b"Import failures" in listing.content
    page = admin_client_.get(f"/admin/alerts/automationalert/{alert.pk}/change/")
    assert page.status_code == 200
    assert b"error number 24" in page.content
    assert b"error number 4<" not in page.content  # only the 20 most recent are shown


def test_send_test_reports_the_outcome_per_alert(admin_client_, httpserver):
    httpserver.expect_request("/s").respond_with_data("ok")
    slack = ConnectionFactory(platform="slack", webhook_url=httpserver.url_for("/s"))
    alert = AlertFactory(name="Ops", channel="slack", connection=slack)
    response = admin_client_.post(
        "/admin/alerts/automationalert/",
        {"action": "send_test", "_selected_action": [alert.pk]},
        follow=True,
    )
    assert b"Ops: delivered (ok)" in response.content
    assert len(httpserver.log) == 1


def test_the_delivery_and_notification_pages_render(admin_client_):
    alert = AlertFactory()
    delivery = AlertDelivery.objects.create(
        alert=alert, event="execution.failed", severity="critical", fold_key="k"
    )
    NotificationFactory(title="Hello there")
    for url in (
        "/admin/alerts/alertdelivery/",
        f"/admin/alerts/alertdelivery/{delivery.pk}/change/",
        "/admin/alerts/notification/",
        "/admin/workflows/stepeffect/",
    ):
        assert admin_client_.get(url).status_code == 200, url
