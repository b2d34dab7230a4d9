"""The header's live numbers follow the executions as often as the page's live parts do: a run
that finished below is not still "1 queued" above for the widget's slower refresh."""

from tests.factories import ExecutionFactory
from workflows.models import AutomationExecution


def test_the_header_polls_as_often_as_the_live_parts_of_the_page(staff_client, settings):
    settings.DASHBOARD_LIVE_REFRESH_S = 2
    settings.DASHBOARD_WIDGET_REFRESH_S = 30
    execution = ExecutionFactory(status="queued")
    page = staff_client.get(f"/dashboard/executions/{execution.pk}/").content.decode()
    header = page[page.index('id="stats"') : page.index("</section>", page.index('id="stats"'))]
    assert 'hx-trigger="load, every 2s"' in header


def test_the_next_header_refresh_shows_a_finished_run_as_no_longer_queued(staff_client):
    execution = ExecutionFactory(status="queued")
    before = staff_client.get("/dashboard/stats/").content.decode()
    assert "<small>1 queued</small>" in before
    AutomationExecution.objects.filter(pk=execution.pk).update(status="completed")
    after = staff_client.get("/dashboard/stats/").content.decode()
    assert "<small>0 queued</small>" in after


def test_the_header_is_never_kept_by_a_cache(staff_client):
    response = staff_client.get("/dashboard/stats/")
    assert "no-store" in response["Cache-Control"]
