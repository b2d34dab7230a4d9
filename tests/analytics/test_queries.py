"""The list endpoints and the stats run the same number of queries for 5 rows as for 50."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.services import rollup_refresh
from tests.analytics.conftest import execution
from tests.factories import (
    AlertDeliveryFactory,
    ArticleFactory,
    ConnectionFactory,
    WorkflowFactory,
)
from versioning.models import ContentVersion

pytestmark = pytest.mark.django_db
BASE = "/api/workflow-orchestration"
ENDPOINTS = [
    "stats",
    "workflows/{workflow}/stats",
    "executions",
    "executions?page=2&page_size=2",
    "executions?cursor=",
    "workflows",
    "activity",
]
# Authentication, the endpoint's own reads, and for stats the health probes and activity.
MOST_QUERIES = 30


def history(rows: int) -> int:
    """``rows`` of everything a stats page reads, spread over hours and workflows, half of them
    in rolled-up hours; returns the busiest workflow's id."""
    now = timezone.now()
    workflows = [WorkflowFactory() for _ in range(max(1, rows // 5))]
    article = ArticleFactory()
    for index in range(rows):
        status = ("completed", "failed", "cancelled", "queued", "running")[index % 5]
        created = now - timedelta(hours=index % 48, minutes=index % 60)
        step = ("post", "notify", "503") if status == "failed" else None
        execution(workflows[index % len(workflows)], status, created, 100 + index, "x", step)
        AlertDeliveryFactory(sent_at=created)
        ContentVersion.objects.create(
            article=article, version_number=index + 1, change_type="manual",
            content_snapshot={}, diff_data={},
        )  # fmt: skip
        ConnectionFactory(is_verified=True, last_verified_at=created)
    rollup_refresh()
    return workflows[0].pk


def queries(api, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(f"{BASE}/{path}")
    assert response.status_code == 200, response.content
    return len(captured)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_endpoint_runs_as_many_queries_for_50_rows_as_for_5(api, endpoint):
    api.get(f"{BASE}/workflows")  # the token's first use is recorded once: not in the counts
    few = queries(api, endpoint.format(workflow=history(5)))
    # Fifty more rows of each kind (and more workflows) on top of the first five.
    many = queries(api, endpoint.format(workflow=history(50)))
    assert few == many


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_endpoint_stays_under_a_fixed_query_budget(api, endpoint, django_assert_max_num_queries):
    path = endpoint.format(workflow=history(50))
    with django_assert_max_num_queries(MOST_QUERIES):
        assert api.get(f"{BASE}/{path}").status_code == 200
