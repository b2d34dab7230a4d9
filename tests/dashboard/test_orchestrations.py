"""The API Orchestration tab: orchestrations, run one with an input, per-call results of recent
runs."""

from orchestration.models import OrchestrationRun
from tests.factories import OrchestrationFactory, OrchestrationRunFactory


def test_the_list_shows_each_orchestration_with_its_counters(staff_client):
    OrchestrationFactory(name="Fan out", type="parallel", success_count=7, failure_count=2)
    page = staff_client.get("/dashboard/orchestrations/").content.decode()
    assert "Fan out" in page and "Parallel" in page and "<td>7</td>" in page


def test_the_detail_shows_each_calls_result_of_recent_runs(staff_client):
    orchestration = OrchestrationFactory()
    OrchestrationRunFactory(
        orchestration=orchestration,
        status="failed",
        error="call fetch: HTTP 502",
        calls={
            "fetch": {
                "status": "failed",
                "status_code": 502,
                "attempts": 3,
                "duration_ms": 80,
                "error": "HTTP 502 from api",
            }
        },
    )
    page = staff_client.get(f"/dashboard/orchestrations/{orchestration.pk}/").content.decode()
    assert "<code>fetch</code>" in page and "<td>502</td>" in page and "<td>3</td>" in page
    assert "HTTP 502 from api" in page


def test_running_with_an_input_queues_a_run(staff_client, django_capture_on_commit_callbacks):
    orchestration = OrchestrationFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_client.post(
            f"/dashboard/orchestrations/{orchestration.pk}/", {"input": '{"q": "news"}'}
        )
    run = OrchestrationRun.objects.get()
    assert response["Location"] == f"/dashboard/orchestrations/{orchestration.pk}/"
    assert (run.status, run.input) == ("queued", {"q": "news"})
    assert callbacks


def test_an_input_that_is_not_json_is_refused_beside_the_field(staff_client):
    orchestration = OrchestrationFactory()
    response = staff_client.post(
        f"/dashboard/orchestrations/{orchestration.pk}/", {"input": "{nope"}
    )
    assert response.status_code == 400
    assert "input" in response.context["form"].errors
    assert not OrchestrationRun.objects.exists()


def test_an_inactive_orchestration_does_not_run(staff_client):
    orchestration = OrchestrationFactory(is_active=False)
    response = staff_client.post(
        f"/dashboard/orchestrations/{orchestration.pk}/", {"input": "{}"}, follow=True
    )
    assert "is inactive" in response.content.decode()
    assert not OrchestrationRun.objects.exists()


def test_recent_runs_poll_only_while_one_is_unfinished(staff_client):
    orchestration = OrchestrationFactory()
    run = OrchestrationRunFactory(orchestration=orchestration, status="running")
    url = f"/dashboard/orchestrations/{orchestration.pk}/runs/"
    assert f'hx-get="{url}"' in staff_client.get(url).content.decode()
    OrchestrationRun.objects.filter(pk=run.pk).update(status="succeeded")
    assert "hx-get" not in staff_client.get(url).content.decode()
