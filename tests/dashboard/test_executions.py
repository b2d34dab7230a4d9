"""The Executions tab: the live list filtered by status and workflow, the detail with its step
timeline, retry and cancel."""

from tests.factories import ExecutionFactory, ExecutionStepFactory, WorkflowFactory
from workflows.models import AutomationExecution


def test_the_list_filters_by_status_and_workflow(staff_client):
    digest, other = WorkflowFactory(name="Digest"), WorkflowFactory(name="Other")
    wanted = ExecutionFactory(workflow=digest, status="failed")
    ExecutionFactory(workflow=digest, status="completed")
    ExecutionFactory(workflow=other, status="failed")
    response = staff_client.get(f"/dashboard/executions/?status=failed&workflow={digest.pk}")
    assert [execution.pk for execution in response.context["rows"]] == [wanted.pk]
    page = response.content.decode()
    assert f'<option value="{digest.pk}" selected>Digest</option>' in page
    assert '<option value="failed" selected>' in page


def test_the_list_polls_its_rows_with_the_same_filters(staff_client, settings):
    settings.DASHBOARD_LIVE_REFRESH_S = 2
    page = staff_client.get("/dashboard/executions/?status=running").content.decode()
    assert 'hx-get="/dashboard/executions/rows/?status=running"' in page
    assert 'hx-trigger="every 2s"' in page


def test_the_rows_partial_shows_the_current_state_in_place(staff_client):
    execution = ExecutionFactory(status="running")
    first = staff_client.get("/dashboard/executions/rows/").content.decode()
    assert first.lstrip().startswith('<tbody id="execution-rows"')
    assert 'data-status="running"' in first
    AutomationExecution.objects.filter(pk=execution.pk).update(status="completed")
    again = staff_client.get("/dashboard/executions/rows/").content.decode()
    assert 'data-status="completed"' in again
    assert "<html" not in again


def test_an_unknown_status_filter_matches_nothing(staff_client):
    ExecutionFactory()
    response = staff_client.get("/dashboard/executions/?status=bogus")
    assert response.status_code == 200
    assert list(response.context["rows"]) == []
    assert "Select a valid choice" in response.content.decode()


def test_the_list_shows_the_hourly_chart_as_svg(staff_client):
    ExecutionFactory(status="completed")
    ExecutionFactory(status="failed")
    page = staff_client.get("/dashboard/executions/").content.decode()
    assert '<svg viewBox="0 0 1000 220" role="img"' in page
    assert "1 succeeded and 1 failed executions over the last 24 hours" in page


def test_the_detail_shows_each_steps_input_output_error_and_attempts(staff_client):
    execution = ExecutionFactory(status="failed", error_message="Step call failed.")
    ExecutionStepFactory(
        execution=execution,
        step_index=0,
        step_id="prepare",
        input={"who": "input-marker"},
        output={"said": "output-marker"},
    )
    ExecutionStepFactory(
        execution=execution,
        step_index=1,
        step_id="call",
        status="failed",
        attempts=3,
        error_message="HTTP 503 (retryable)",
    )
    page = staff_client.get(f"/dashboard/executions/{execution.pk}/").content.decode()
    assert page.index('id="step-prepare"') < page.index('id="step-call"')
    assert "input-marker" in page and "output-marker" in page
    assert "HTTP 503 (retryable)" in page and "Attempts: 3" in page
    assert "Retry from the failed step" in page


def test_an_unfinished_execution_polls_and_a_finished_one_stops(staff_client, settings):
    settings.DASHBOARD_LIVE_REFRESH_S = 1
    execution = ExecutionFactory(status="running")
    live = f"/dashboard/executions/{execution.pk}/live/"
    assert f'hx-get="{live}" hx-trigger="every 1s"' in staff_client.get(live).content.decode()
    AutomationExecution.objects.filter(pk=execution.pk).update(status="completed")
    finished = staff_client.get(live).content.decode()
    assert "hx-trigger" not in finished
    assert 'data-status="completed"' in finished


def test_retry_queues_a_failed_execution_again(staff_client):
    execution = ExecutionFactory(status="failed")
    response = staff_client.post(f"/dashboard/executions/{execution.pk}/retry/")
    assert response["Location"] == f"/dashboard/executions/{execution.pk}/"
    execution.refresh_from_db()
    assert execution.status == "queued"


def test_retrying_a_completed_execution_says_why_not(staff_client):
    execution = ExecutionFactory(status="completed")
    response = staff_client.post(f"/dashboard/executions/{execution.pk}/retry/", follow=True)
    assert "Only failed executions can be retried" in response.content.decode()
    execution.refresh_from_db()
    assert execution.status == "completed"


def test_cancel_stops_a_queued_execution(staff_client):
    execution = ExecutionFactory(status="queued")
    response = staff_client.post(f"/dashboard/executions/{execution.pk}/cancel/", follow=True)
    execution.refresh_from_db()
    assert execution.status == "cancelled"
    assert f"Execution #{execution.pk} cancelled." in response.content.decode()


def test_cancel_asks_a_running_execution_to_stop(staff_client):
    execution = ExecutionFactory(status="running")
    response = staff_client.post(f"/dashboard/executions/{execution.pk}/cancel/", follow=True)
    execution.refresh_from_db()
    assert execution.cancel_requested and execution.status == "running"
    assert "will stop before its next step" in response.content.decode()


def test_retry_and_cancel_accept_only_post(staff_client):
    execution = ExecutionFactory(status="failed")
    assert staff_client.get(f"/dashboard/executions/{execution.pk}/retry/").status_code == 405
    assert staff_client.get(f"/dashboard/executions/{execution.pk}/cancel/").status_code == 405


def test_the_detail_lists_every_attempt_of_a_step_and_active_apart_from_wall_time(staff_client):
    execution = ExecutionFactory(status="completed", execution_time_ms=8, wall_time_ms=384_000)
    ExecutionStepFactory(
        execution=execution,
        step_id="call",
        attempts=2,
        execution_time_ms=8,
        wall_time_ms=384_000,
        attempt_history=[
            {
                "attempt": 1,
                "status": "failed",
                "started_at": "2026-01-01T10:00:00+00:00",
                "completed_at": "2026-01-01T10:00:00.005000+00:00",
                "execution_time_ms": 5,
                "error_message": "HTTP 503 from the API",
            },
            {
                "attempt": 2,
                "status": "completed",
                "started_at": "2026-01-01T10:06:24+00:00",
                "completed_at": "2026-01-01T10:06:24.003000+00:00",
                "execution_time_ms": 3,
                "error_message": "",
            },
        ],
    )
    page = staff_client.get(f"/dashboard/executions/{execution.pk}/").content.decode()
    table = page[page.index('id="attempts-call"') : page.index("</table>")]
    assert table.count("<tr>") == 3  # the header and both attempts
    assert "HTTP 503 from the API" in table and ">failed<" in table
    assert "10:06:24" in table
    assert "Active time</dt><dd>8 ms" in page
    assert "Wall time</dt><dd>6.4 min" in page
