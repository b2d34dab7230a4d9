"""The user widget: real-time status, active workflows, success rate, recent activity and system
health, reloading itself every DASHBOARD_WIDGET_REFRESH_S seconds; embeddable in this site."""

from django.template import Context, Template
from django.test import RequestFactory

from tests.factories import ExecutionFactory, WorkflowFactory


def test_the_widget_shows_status_workflows_success_rate_activity_and_health(plain_client):
    active = WorkflowFactory(name="A")
    WorkflowFactory(name="B", is_active=False)
    ExecutionFactory(workflow=active, status="completed", started_at="2026-01-01T00:00:00Z",
                     completed_at="2026-01-01T00:00:01Z")  # fmt: skip
    ExecutionFactory(workflow=active, status="running")
    page = plain_client.get("/dashboard/widget/").content.decode()
    assert 'id="widget-active">1 <small>of 2</small>' in page
    assert 'id="widget-running">1' in page
    assert "100.0 %" in page
    assert "database" in page and "broker" in page
    assert "Execution #" in page  # recent activity


def test_the_widget_reloads_its_panel_every_setting_seconds(plain_client, settings):
    settings.DASHBOARD_WIDGET_REFRESH_S = 7
    page = plain_client.get("/dashboard/widget/").content.decode()
    assert 'hx-get="/dashboard/widget/panel/"' in page
    assert 'hx-trigger="every 7s"' in page


def test_the_panel_is_a_fragment_not_a_page(plain_client):
    panel = plain_client.get("/dashboard/widget/panel/").content.decode()
    assert "System status" in panel and "<html" not in panel


def test_the_include_template_loads_itself_where_it_is_embedded(plain_user, settings):
    settings.DASHBOARD_WIDGET_REFRESH_S = 30
    request = RequestFactory().get("/somewhere/")
    request.user = plain_user
    html = Template('{% include "dashboard/widget_include.html" %}').render(
        Context({"request": request})
    )
    assert 'hx-get="/dashboard/widget/panel/"' in html
    assert 'hx-trigger="load, every 30s"' in html


def test_the_widget_may_be_framed_by_pages_of_this_site(plain_client):
    response = plain_client.get("/dashboard/widget/")
    assert "frame-ancestors 'self'" in response["Content-Security-Policy"]
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_staff_pages_may_not_be_framed_at_all(staff_client):
    response = staff_client.get("/dashboard/")
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_the_embedded_view_hides_the_top_bar(plain_client):
    page = plain_client.get("/dashboard/widget/?embed=1").content.decode()
    assert 'class="widget-page embedded"' in page


def test_the_widget_lists_the_most_recently_run_active_workflows(plain_client):
    WorkflowFactory(name="Never run")
    WorkflowFactory(name="Ran", last_status="failed", last_run_at="2026-01-01T00:00:00Z")
    WorkflowFactory(name="Switched off", is_active=False, last_run_at="2026-01-02T00:00:00Z")
    page = plain_client.get("/dashboard/widget/panel/").content.decode()
    assert page.index(">Ran</span>") < page.index(">Never run</span>")
    assert "Switched off" not in page
