"""The admin: orchestrations with their runs inline, runs read-only with per-call results."""

import pytest

from orchestration.models import APIOrchestration, OrchestrationRun
from tests.factories import OrchestrationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def a_run(orchestration) -> OrchestrationRun:
    return OrchestrationRun.objects.create(
        orchestration=orchestration,
        definition={},
        status="failed",
        error="Call 'b' failed: HTTP 500",
        calls={
            "a": {"status": "succeeded", "status_code": 200, "attempts": 1, "duration_ms": 12,
                  "output": {"body": {}, "extracted": {}}, "error": ""},
            "b": {"status": "failed", "status_code": 500, "attempts": 3, "duration_ms": 40,
                  "output": {"body": "boom", "extracted": {}}, "error": "HTTP 500 <from b>"},
        },
    )  # fmt: skip


def test_an_orchestration_page_lists_its_runs(admin_client):
    orchestration = OrchestrationFactory(name="Nightly")
    run = a_run(orchestration)
    response = admin_client.get(f"/admin/orchestration/apiorchestration/{orchestration.pk}/change/")
    assert response.status_code == 200
    assert f"/admin/orchestration/orchestrationrun/{run.pk}/change/" in response.content.decode()


def test_a_run_page_is_read_only_and_shows_each_call(admin_client):
    run = a_run(OrchestrationFactory())
    page = admin_client.get(f"/admin/orchestration/orchestrationrun/{run.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<td>b</td><td>failed</td><td>500</td><td>3</td>" in html
    assert "HTTP 500 &lt;from b&gt;" in html
    assert 'name="_save"' not in html
    assert admin_client.get("/admin/orchestration/orchestrationrun/add/").status_code == 403


def test_the_admin_form_refuses_a_cycle_with_the_call_named(admin_client):
    response = admin_client.post(
        "/admin/orchestration/apiorchestration/add/",
        {
            "name": "Loop",
            "description": "",
            "type": "sequential",
            "api_calls": '[{"id": "a", "url": "https://x.example.com"},'
            ' {"id": "b", "url": "https://x.example.com"}]',
            "dependencies": '{"a": ["b"], "b": ["a"]}',
            "retry_strategy": "{}",
            "is_active": "on",
            "runs-TOTAL_FORMS": "0",
            "runs-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "a: Dependency cycle: a → b → a." in response.content.decode()
    assert not APIOrchestration.objects.exists()
