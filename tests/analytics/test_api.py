"""The stats endpoints and the executions list's pages, through the API."""

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tests.analytics.conftest import execution
from tests.conftest import wait_for
from tests.factories import ExecutionFactory, WorkflowFactory
from workflows.models import AutomationExecution

pytestmark = pytest.mark.django_db
BASE = "/api/workflow-orchestration"


def test_any_signed_in_user_reads_the_stats(plain_api):
    WorkflowFactory()
    response = plain_api.get(f"{BASE}/stats")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "workflows", "executions", "timeline", "top_failing_workflows", "recent_activity",
        "health",
    }  # fmt: skip
    assert body["workflows"] == {"total": 1, "active": 1}
    assert len(body["timeline"]["hourly"]) == 24


def test_anonymous_callers_cannot_read_the_stats(db):
    assert APIClient().get(f"{BASE}/stats").status_code == 401
    assert APIClient().get(f"{BASE}/stats/").status_code == 401


def test_staff_read_a_workflows_stats_with_the_kernel_counters_kept(api):
    workflow = WorkflowFactory(run_count=3, success_count=2, failure_count=1)
    response = api.get(f"{BASE}/workflows/{workflow.pk}/stats")
    assert response.status_code == 200
    body = response.json()
    assert body["workflow_id"] == workflow.pk
    assert (body["run_count"], body["success_count"], body["failure_count"]) == (3, 2, 1)
    assert set(body) >= {
        "executions", "executions_by_status", "success_rate", "avg_execution_time_ms",
        "p50_execution_time_ms", "p95_execution_time_ms", "timeline", "failures_by_step",
    }  # fmt: skip


def test_a_workflows_stats_are_for_staff_only(plain_api):
    workflow = WorkflowFactory()
    assert plain_api.get(f"{BASE}/workflows/{workflow.pk}/stats").status_code == 403
    assert APIClient().get(f"{BASE}/workflows/{workflow.pk}/stats").status_code == 401


def test_an_unknown_workflows_stats_are_404(api):
    assert api.get(f"{BASE}/workflows/99999/stats").status_code == 404


@pytest.fixture
def seven_executions():
    workflow = WorkflowFactory()
    return [ExecutionFactory(workflow=workflow).pk for _ in range(7)][::-1]


def test_page_numbers_keep_their_count_and_order(api, seven_executions):
    body = api.get(f"{BASE}/executions", {"page_size": 3, "page": 2}).json()
    assert body["count"] == 7
    assert [row["id"] for row in body["results"]] == seven_executions[3:6]
    assert body["results"][0]["workflow_name"]
    last = api.get(f"{BASE}/executions", {"page_size": 3, "page": 3}).json()
    assert [row["id"] for row in last["results"]] == seven_executions[6:]


def test_page_numbers_still_filter_and_order(api, seven_executions):
    AutomationExecution.objects.filter(pk=seven_executions[0]).update(status="failed")
    body = api.get(f"{BASE}/executions", {"status": "failed"}).json()
    assert [row["id"] for row in body["results"]] == seven_executions[:1]
    oldest_first = api.get(f"{BASE}/executions", {"ordering": "id", "page_size": 2}).json()
    assert [row["id"] for row in oldest_first["results"]] == seven_executions[::-1][:2]


def test_a_cursor_pages_executions_newest_first_without_a_count(api, seven_executions):
    seen, url = [], f"{BASE}/executions?cursor=&page_size=3"
    while url:
        body = api.get(url).json()
        assert "count" not in body
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert seen == seven_executions


def test_the_schema_of_the_executions_list_allows_a_page_without_a_count():
    # Found by schema fuzzing (tests/security): a keyset page answered outside its schema.
    schema = SchemaGenerator().get_schema(request=None, public=True)
    paginated = schema["components"]["schemas"]["PaginatedExecutionList"]
    assert "count" in paginated["properties"]
    assert paginated["required"] == ["results"]


def test_a_cursor_combines_with_filters(api, seven_executions):
    AutomationExecution.objects.filter(pk__in=seven_executions[:2]).update(status="failed")
    body = api.get(f"{BASE}/executions", {"cursor": "", "status": "failed"}).json()
    assert [row["id"] for row in body["results"]] == seven_executions[:2]


def test_a_garbled_executions_cursor_is_refused(api):
    response = api.get(f"{BASE}/executions", {"cursor": "not-a-cursor"})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid cursor"}


@pytest.mark.worker
def test_a_run_through_a_real_worker_shows_in_stats_and_activity(start_worker, api, plain_api):
    workflow = WorkflowFactory(name="Live one")
    start_worker()
    execution_id = api.post(f"{BASE}/workflows/{workflow.pk}/execute", {}, format="json").json()[
        "execution_id"
    ]
    wait_for(lambda: AutomationExecution.objects.get(pk=execution_id).status == "completed")
    stats = plain_api.get(f"{BASE}/stats").json()
    assert stats["executions"]["completed"] == 1
    assert stats["executions"]["success_rate"] == 1.0
    assert stats["timeline"]["hourly"][-1]["completed"] == 1
    assert stats["health"]["components"]["workers"]["ok"] is True
    kinds = [(item["kind"], item["object_id"]) for item in stats["recent_activity"]]
    assert kinds[:2] == [("execution.finished", execution_id), ("execution.started", execution_id)]
    detail = api.get(f"{BASE}/workflows/{workflow.pk}/stats").json()
    assert detail["executions_by_status"]["completed"] == 1
    assert detail["p95_execution_time_ms"] is not None


def test_stats_read_recent_executions_without_waiting_for_a_rollup(plain_api):
    workflow = WorkflowFactory()
    execution(workflow, "failed", timezone.now(), 10, "boom")
    body = plain_api.get(f"{BASE}/stats").json()
    assert body["executions"]["failed"] == 1
    assert body["top_failing_workflows"][0]["last_error"] == "boom"
