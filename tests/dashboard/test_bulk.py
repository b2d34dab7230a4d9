"""Bulk Retry / Cancel from the executions list: the ticked rows or every row the filter matches,
a confirmation with the count first, then each row through the single-execution services, the
ones in the wrong state counted as skipped."""

from django.test import Client

from tests.factories import ExecutionFactory, WorkflowFactory
from workflows.models import AutomationExecution


def _statuses(*executions: AutomationExecution) -> list[str]:
    return [AutomationExecution.objects.get(pk=row.pk).status for row in executions]


def test_the_list_has_a_checkbox_per_row_and_the_bulk_buttons(staff_client):
    execution = ExecutionFactory(status="failed")
    page = staff_client.get("/dashboard/executions/?status=failed").content.decode()
    assert f'name="ids" value="{execution.pk}"' in page
    assert 'name="everything"' in page
    assert '<input type="hidden" name="filter" value="status=failed">' in page
    assert 'value="retry">Retry selected' in page and 'value="cancel">Cancel selected' in page


def test_the_polled_rows_keep_their_checkboxes(staff_client):
    execution = ExecutionFactory(status="failed")
    rows = staff_client.get("/dashboard/executions/rows/").content.decode()
    assert f'id="select-{execution.pk}" hx-preserve="true"' in rows


def test_the_confirmation_counts_the_ticked_rows_and_changes_nothing(staff_client):
    failed = ExecutionFactory(status="failed")
    done = ExecutionFactory(status="completed")
    response = staff_client.post(
        "/dashboard/executions/bulk/", {"action": "retry", "ids": [failed.pk, done.pk]}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Retry 2 executions?" in page
    assert "1 of them failed" in page and "1 will be skipped (not failed)" in page
    assert f'<input type="hidden" name="ids" value="{failed.pk}">' in page
    assert _statuses(failed, done) == ["failed", "completed"]


def test_confirming_retries_the_failed_and_counts_the_rest_as_skipped(staff_client):
    failed = ExecutionFactory.create_batch(2, status="failed")
    done = ExecutionFactory(status="completed")
    response = staff_client.post(
        "/dashboard/executions/bulk/apply/",
        {"action": "retry", "ids": [*(row.pk for row in failed), done.pk], "filter": "status="},
        follow=True,
    )
    assert response.redirect_chain[0][0] == "/dashboard/executions/?status="
    assert "2 retried, 1 skipped (not failed)." in response.content.decode()
    assert _statuses(*failed, done) == ["queued", "queued", "completed"]


def test_confirming_cancel_stops_what_it_can_and_says_what_it_skipped(staff_client):
    queued = ExecutionFactory(status="queued")
    running = ExecutionFactory(status="running")
    done = ExecutionFactory(status="completed")
    response = staff_client.post(
        "/dashboard/executions/bulk/apply/",
        {"action": "cancel", "ids": [queued.pk, running.pk, done.pk]},
        follow=True,
    )
    assert "1 cancelled, 1 asked to stop, 1 skipped (already finished)." in (
        response.content.decode()
    )
    assert _statuses(queued, running, done) == ["cancelled", "running", "completed"]


def test_every_row_the_filter_matches_is_selected_across_pages(staff_client):
    digest, other = WorkflowFactory(name="Digest"), WorkflowFactory(name="Other")
    wanted = ExecutionFactory.create_batch(60, workflow=digest, status="failed")
    ExecutionFactory(workflow=other, status="failed")
    response = staff_client.post(
        "/dashboard/executions/bulk/",
        {"action": "retry", "everything": "1", "filter": f"workflow={digest.pk}&page=2"},
    )
    assert sorted(response.context["ids"]) == sorted(row.pk for row in wanted)
    assert "Retry 60 executions?" in response.content.decode()
    assert response.context["filter"] == f"workflow={digest.pk}"


def test_a_filter_matching_more_than_the_limit_acts_on_the_newest(staff_client, monkeypatch):
    monkeypatch.setattr("dashboard.views.bulk.BULK_LIMIT", 3)
    rows = ExecutionFactory.create_batch(5, status="failed")
    response = staff_client.post(
        "/dashboard/executions/bulk/", {"action": "cancel", "everything": "1"}
    )
    assert response.context["ids"] == [row.pk for row in reversed(rows)][:3]
    assert "The filter matches 5 executions; this acts on the newest 3." in (
        response.content.decode()
    )


def test_more_ids_than_the_limit_are_refused_without_acting(staff_client):
    executions = ExecutionFactory.create_batch(2, status="failed")
    ids = [executions[0].pk] * 250 + [executions[1].pk] * 251
    response = staff_client.post(
        "/dashboard/executions/bulk/apply/", {"action": "retry", "ids": ids}, follow=True
    )
    assert "At most 500 executions per action." in response.content.decode()
    assert _statuses(*executions) == ["failed", "failed"]


def test_nothing_ticked_goes_back_to_the_list_saying_so(staff_client):
    response = staff_client.post(
        "/dashboard/executions/bulk/", {"action": "retry", "filter": "status=failed"}, follow=True
    )
    assert response.redirect_chain[0][0] == "/dashboard/executions/?status=failed"
    assert "Select at least one execution" in response.content.decode()


def test_a_filter_matching_nothing_goes_back_to_the_list_saying_so(staff_client):
    ExecutionFactory(status="completed")
    response = staff_client.post(
        "/dashboard/executions/bulk/",
        {"action": "retry", "everything": "1", "filter": "status=bogus"},
        follow=True,
    )
    assert "No executions match the filter." in response.content.decode()


def test_ids_that_are_gone_are_skipped_not_an_error(staff_client):
    failed = ExecutionFactory(status="failed")
    response = staff_client.post(
        "/dashboard/executions/bulk/apply/",
        {"action": "retry", "ids": [failed.pk, failed.pk + 1000]},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 retried, 1 skipped (not failed)." in response.content.decode()


def test_bulk_actions_are_post_only_csrf_checked_and_staff_only(staff_user, plain_client, client):
    failed = ExecutionFactory(status="failed")
    data = {"action": "retry", "ids": [failed.pk]}
    checked = Client(enforce_csrf_checks=True)
    checked.force_login(staff_user)
    assert checked.post("/dashboard/executions/bulk/apply/", data).status_code == 403
    assert plain_client.post("/dashboard/executions/bulk/apply/", data).status_code == 403
    assert client.post("/dashboard/executions/bulk/apply/", data).status_code == 302
    admin = Client()
    admin.force_login(staff_user)
    assert admin.get("/dashboard/executions/bulk/").status_code == 405
    assert _statuses(failed) == ["failed"]
