"""Every dashboard page runs the same number of queries with 30 rows as with 3."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.dashboard.data import execution_waiting_for_approval, workflow_with_three_revisions
from tests.factories import (
    AlertDeliveryFactory,
    AlertFactory,
    ArticleFactory,
    ConnectionFactory,
    ExecutionFactory,
    ExecutionStepFactory,
    NotificationFactory,
    OrchestrationFactory,
    OrchestrationRunFactory,
    UserFactory,
    WorkflowFactory,
)
from versioning.services import article_create, version_create
from workflows.services.workflows import workflow_update


@dataclass(frozen=True)
class Page:
    name: str
    setup: Callable[[Any], Any]  # (staff user) -> the page's subject
    grow: Callable[[Any, Any, int], None]  # (subject, staff user, n) -> add n rows
    url: Callable[[Any], str]


def _executions(subject: Any, user: Any, n: int) -> None:
    for _ in range(n):
        execution = ExecutionFactory(
            workflow=WorkflowFactory(),
            status="failed",
            error_message="boom",
            completed_at="2026-01-01T00:00:00Z",
        )
        ExecutionStepFactory(execution=execution, status="failed", error_message="boom")


def _alerts(subject: Any, user: Any, n: int) -> None:
    for _ in range(n):
        alert = AlertFactory(workflow=WorkflowFactory())
        AlertDeliveryFactory(alert=alert)
        NotificationFactory(user=user)
        ConnectionFactory(credentials={"token": "t"})


def _articles(subject: Any, user: Any, n: int) -> None:
    for _ in range(n):
        ArticleFactory(author=UserFactory())


def _versions(article: Any, user: Any, n: int) -> None:
    for _ in range(n):
        version_create(article=article, user=UserFactory(), description="snapshot")


def _article(user: Any) -> Any:
    return article_create(data={"title": "Counted", "content": "one"}, user=user).article


def _workflow_executions(workflow: Any, user: Any, n: int) -> None:
    for index in range(n):
        execution = ExecutionFactory(workflow=workflow, status="failed", execution_time_ms=10)
        ExecutionStepFactory(execution=execution, step_id=f"s{index}", status="failed")


def _steps(execution: Any, user: Any, n: int) -> None:
    start = execution.steps.count()
    for index in range(start, start + n):
        ExecutionStepFactory(execution=execution, step_index=index, output={"i": index})


def _runs(orchestration: Any, user: Any, n: int) -> None:
    OrchestrationRunFactory.create_batch(n, orchestration=orchestration)


def _revisions(workflow: Any, user: Any, n: int) -> None:
    for _ in range(n):
        workflow_update(
            workflow=workflow,
            data={"description": f"take {uuid.uuid4().hex}"},
            user=UserFactory(),
            change_note="tweak",
        )


def _nothing(user: Any) -> None:
    return None


PAGES = [
    Page(
        "workflows",
        _nothing,
        lambda s, u, n: WorkflowFactory.create_batch(n),
        lambda s: "/dashboard/",
    ),
    Page(
        "workflow detail",
        lambda u: WorkflowFactory(),
        _workflow_executions,
        lambda s: f"/dashboard/workflows/{s.pk}/",
    ),
    Page(
        "workflow edit",
        lambda u: WorkflowFactory(),
        _workflow_executions,
        lambda s: f"/dashboard/workflows/{s.pk}/edit/",
    ),
    Page("executions", _nothing, _executions, lambda s: "/dashboard/executions/"),
    Page("execution rows", _nothing, _executions, lambda s: "/dashboard/executions/rows/"),
    Page(
        "execution detail",
        lambda u: ExecutionFactory(),
        _steps,
        lambda s: f"/dashboard/executions/{s.pk}/",
    ),
    Page(
        "execution live",
        lambda u: ExecutionFactory(status="running"),
        _steps,
        lambda s: f"/dashboard/executions/{s.pk}/live/",
    ),
    Page(
        "waiting execution detail",
        lambda u: execution_waiting_for_approval(),
        _steps,
        lambda s: f"/dashboard/executions/{s.pk}/",
    ),
    Page(
        "waiting execution live",
        lambda u: execution_waiting_for_approval(),
        _steps,
        lambda s: f"/dashboard/executions/{s.pk}/live/",
    ),
    Page(
        "workflow detail with revisions",
        workflow_with_three_revisions,
        _revisions,
        lambda s: f"/dashboard/workflows/{s.pk}/",
    ),
    Page(
        "workflow revisions",
        workflow_with_three_revisions,
        _revisions,
        lambda s: f"/dashboard/workflows/{s.pk}/revisions/?from_revision=1&to_revision=2",
    ),
    Page(
        "revision restore",
        workflow_with_three_revisions,
        _revisions,
        lambda s: f"/dashboard/workflows/{s.pk}/revisions/1/restore/",
    ),
    Page(
        "dry run form",
        lambda u: WorkflowFactory(),
        _workflow_executions,
        lambda s: f"/dashboard/workflows/{s.pk}/dry-run/",
    ),
    Page("alerts", _nothing, _alerts, lambda s: "/dashboard/alerts/"),
    Page(
        "alert detail",
        lambda u: AlertFactory(),
        lambda s, u, n: AlertDeliveryFactory.create_batch(n, alert=s),
        lambda s: f"/dashboard/alerts/{s.pk}/",
    ),
    Page("versions", _nothing, _articles, lambda s: "/dashboard/versions/"),
    Page("article history", _article, _versions, lambda s: f"/dashboard/versions/{s.pk}/"),
    Page("revert", _article, _versions, lambda s: f"/dashboard/versions/{s.pk}/revert/1/"),
    Page(
        "orchestrations",
        _nothing,
        lambda s, u, n: OrchestrationFactory.create_batch(n),
        lambda s: "/dashboard/orchestrations/",
    ),
    Page(
        "orchestration detail",
        lambda u: OrchestrationFactory(),
        _runs,
        lambda s: f"/dashboard/orchestrations/{s.pk}/",
    ),
    Page(
        "orchestration runs",
        lambda u: OrchestrationFactory(),
        _runs,
        lambda s: f"/dashboard/orchestrations/{s.pk}/runs/",
    ),
    Page("stats header", _nothing, _executions, lambda s: "/dashboard/stats/"),
    Page("widget", _nothing, _executions, lambda s: "/dashboard/widget/"),
    Page("widget panel", _nothing, _executions, lambda s: "/dashboard/widget/panel/"),
]


def _queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_each_page_runs_as_many_queries_for_30_rows_as_for_3(
    staff_client, staff_user, page, django_assert_max_num_queries
):
    subject = page.setup(staff_user)
    url = page.url(subject)
    page.grow(subject, staff_user, 3)
    staff_client.get(url)  # warm up: first-request work is not what is measured
    with_three = _queries(staff_client, url)
    page.grow(subject, staff_user, 27)
    with django_assert_max_num_queries(with_three):
        assert staff_client.get(url).status_code == 200


def test_a_dry_run_report_runs_as_many_queries_for_30_steps_as_for_3(staff_client):
    def counted(steps: int) -> int:
        actions = [
            {"id": f"s{i}", "type": "transform", "params": {"values": {"i": "{{ trigger.n }}"}}}
            for i in range(steps)
        ]
        workflow = WorkflowFactory(actions=actions)
        with CaptureQueriesContext(connection) as captured:
            response = staff_client.post(
                f"/dashboard/workflows/{workflow.pk}/dry-run/", {"test-payload": '{"n": 1}'}
            )
        assert len(response.context["report"]["steps"]) == steps
        return len(captured)

    counted(1)  # warm up
    assert counted(30) == counted(3)
