"""Who gets which page: staff the dashboard, any signed-in user the widget, anonymous users the
sign-in page."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory, WorkflowFactory
from workflows.models import AutomationExecution

TABS = [
    "/dashboard/",
    "/dashboard/executions/",
    "/dashboard/alerts/",
    "/dashboard/versions/",
    "/dashboard/orchestrations/",
    "/dashboard/audit/",
    "/dashboard/stats/",
    "/dashboard/workflows/new/",
    "/dashboard/connections/new/",
]


@pytest.mark.parametrize("url", TABS)
def test_staff_open_every_tab(staff_client, url):
    assert staff_client.get(url).status_code == 200


@pytest.mark.parametrize("url", TABS)
def test_a_plain_user_gets_403_on_the_dashboard(plain_client, url):
    response = plain_client.get(url)
    assert response.status_code == 403
    assert reverse("dashboard:widget") in response.content.decode()


@pytest.mark.parametrize("url", [*TABS, "/dashboard/widget/", "/dashboard/widget/panel/"])
def test_anonymous_users_are_sent_to_sign_in(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('dashboard:login')}?next={url}"


def test_a_plain_user_gets_the_widget(plain_client):
    response = plain_client.get("/dashboard/widget/")
    assert response.status_code == 200
    assert "System status" in response.content.decode()


def test_actions_refuse_a_plain_user(plain_client):
    workflow = WorkflowFactory()
    response = plain_client.post(f"/dashboard/workflows/{workflow.pk}/delete/")
    assert response.status_code == 403
    assert type(workflow).objects.filter(pk=workflow.pk).exists()


def test_the_widget_may_be_framed_by_the_same_site_only(plain_client):
    assert plain_client.get("/dashboard/widget/")["X-Frame-Options"] == "SAMEORIGIN"
    assert plain_client.get("/dashboard/widget/panel/")["X-Frame-Options"] == "SAMEORIGIN"


def test_the_staff_dashboard_may_not_be_framed(staff_client):
    assert staff_client.get("/dashboard/")["X-Frame-Options"] == "DENY"


def test_a_plain_user_can_sign_in_and_lands_on_the_widget(client, db):
    UserFactory(username="reader")
    response = client.post(
        "/dashboard/login/", {"username": "reader", "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:widget")


def test_staff_sign_in_lands_on_the_dashboard(client, staff_user):
    response = client.post(
        "/dashboard/login/", {"username": "staff", "password": "correct horse battery staple"}
    )
    assert response["Location"] == reverse("dashboard:workflows")


def test_signing_out_needs_a_post_and_ends_the_session(staff_client):
    response = staff_client.post("/dashboard/logout/")
    assert response.status_code == 302
    assert staff_client.get("/dashboard/").status_code == 302


def test_actions_need_the_csrf_token(staff_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    workflow = WorkflowFactory()
    response = client.post(f"/dashboard/workflows/{workflow.pk}/run/", {"payload": "{}"})
    assert response.status_code == 403
    assert not AutomationExecution.objects.exists()
    form_page = client.get(f"/dashboard/workflows/{workflow.pk}/run/").content.decode()
    assert 'name="csrfmiddlewaretoken"' in form_page


def test_a_missing_object_inside_the_dashboard_is_a_dashboard_page(staff_client):
    workflow = WorkflowFactory()
    response = staff_client.get(f"/dashboard/workflows/{workflow.pk}/revisions/99/restore/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in page
    assert 'aria-label="Dashboard sections"' in page  # the tabs, for staff
    assert f"Workflow {workflow.pk} has no revision 99." in page


def test_an_unknown_dashboard_address_is_a_dashboard_page_too(staff_client, plain_client):
    staff_page = staff_client.get("/dashboard/no/such/page/")
    assert staff_page.status_code == 404
    assert "<h1>Not found</h1>" in staff_page.content.decode()
    plain_page = plain_client.get("/dashboard/workflows/12345/revisions/9/restore/")
    assert plain_page.status_code in (403, 404)
    unknown = plain_client.get("/dashboard/no/such/page/").content.decode()
    assert "<h1>Not found</h1>" in unknown
    assert "Dashboard sections" not in unknown and "status widget" in unknown


def test_a_404_outside_the_dashboard_keeps_its_own_answer(staff_client):
    assert staff_client.get("/api/workflow-orchestration/nothing/").json() == {
        "detail": "Not found."
    }
    assert "Dashboard sections" not in staff_client.get("/nothing-here/").content.decode()
