""" "Test with payload" on a workflow's page: a dry run that reports, step by step, what a run
would do (run, skip or fail, and why, with the rendered input and computed output), and sends
and saves nothing."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import WorkflowFactory
from workflows.models import AutomationExecution, AutomationExecutionStep


def actions_calling(url: str) -> list[dict]:
    return [
        {"id": "calc", "type": "transform", "params": {"values": {"n": "{{ trigger.n * 2 }}"}}},
        {
            "id": "post",
            "type": "api_call",
            "params": {"method": "POST", "url": url, "body": {"n": "{{ steps.calc.n }}"}},
        },
        {
            "id": "big",
            "type": "transform",
            "condition": "steps.calc.n > 100",
            "params": {"values": {"x": 1}},
        },
        {
            "id": "broken",
            "type": "transform",
            "params": {"values": {"x": "{{ trigger.missing.deep }}"}},
        },
    ]


def dry_run(client, workflow, payload: str):
    return client.post(f"/dashboard/workflows/{workflow.pk}/dry-run/", {"test-payload": payload})


def test_the_workflow_page_has_a_test_with_payload_form(staff_client):
    workflow = WorkflowFactory()
    page = staff_client.get(f"/dashboard/workflows/{workflow.pk}/").content.decode()
    assert f'action="/dashboard/workflows/{workflow.pk}/dry-run/"' in page
    assert '<label for="id_test-payload">Sample payload</label>' in page
    assert ">Test with payload</button>" in page


def test_the_report_shows_each_step_and_nothing_is_sent_or_saved(
    staff_client, httpserver, allow_loopback
):
    httpserver.expect_request("/hook").respond_with_json({"id": 1})
    workflow = WorkflowFactory(actions=actions_calling(httpserver.url_for("/hook")))
    with CaptureQueriesContext(connection) as queries:
        response = dry_run(staff_client, workflow, '{"n": 21}')
    assert response.status_code == 200
    steps = {step["id"]: step for step in response.context["report"]["steps"]}
    assert (steps["calc"]["would"], steps["calc"]["output"]) == ("run", {"n": 42})
    assert steps["post"]["side_effects"] is True and steps["post"]["input"]["body"] == {"n": 42}
    assert steps["big"]["would"] == "skip" and steps["broken"]["would"] == "fail"

    page = response.content.decode()
    assert "Test only: nothing was sent and nothing was saved." in page
    assert "A run with this payload would fail" in page
    for step_id, would in [("calc", "run"), ("post", "run"), ("big", "skip"), ("broken", "fail")]:
        report = page.split(f'id="dry-step-{step_id}"')[1].split("</li>")[0]
        assert f">would {would}</span>" in report, step_id
    calc = page.split('id="dry-step-calc"')[1].split("</li>")[0]
    assert "Rendered input" in calc and "Output" in calc and "&quot;n&quot;: 42" in calc
    post = page.split('id="dry-step-post"')[1].split("</li>")[0]
    assert "Has side effects: not run in a test." in post and "api_call" in post
    assert "condition is false: steps.calc.n &gt; 100" in page
    assert "undefined" in page.split('id="dry-step-broken"')[1].split("</li>")[0]

    assert len(httpserver.log) == 0, "no request left"
    assert not AutomationExecution.objects.exists()
    assert not AutomationExecutionStep.objects.exists()
    writes = [q["sql"] for q in queries if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert writes == []


def test_a_payload_that_runs_clean_says_so_and_stays_in_the_form(staff_client):
    workflow = WorkflowFactory(
        actions=[
            {"id": "calc", "type": "transform", "params": {"values": {"n": "{{ trigger.n }}"}}}
        ]
    )
    page = dry_run(staff_client, workflow, '{"n": 7}').content.decode()
    assert "Every step would run or be skipped." in page
    assert "&quot;n&quot;: 7" in page.split("</textarea>")[0], "the payload is kept for a retry"


def test_json_that_does_not_parse_is_shown_beside_the_field_with_a_400(staff_client):
    workflow = WorkflowFactory()
    response = dry_run(staff_client, workflow, "{n: 21")
    assert response.status_code == 400
    assert response.context["form"].errors["payload"] == ["Enter a valid JSON."]
    page = response.content.decode()
    assert 'id="id_test-payload_errors"' in page and "{n: 21" in page
    assert "report" not in response.context
    assert not AutomationExecution.objects.exists()


def test_a_payload_that_is_not_an_object_is_refused(staff_client):
    response = dry_run(staff_client, WorkflowFactory(), "[1, 2]")
    assert response.status_code == 400
    assert "must be a JSON object" in response.context["form"].errors["payload"][0]


def test_the_test_page_opens_with_an_empty_payload(staff_client):
    workflow = WorkflowFactory(name="Digest")
    response = staff_client.get(f"/dashboard/workflows/{workflow.pk}/dry-run/")
    assert response.status_code == 200
    assert "Test “Digest” with a payload" in response.content.decode()
    assert "report" not in response.context


def test_a_dry_run_is_for_staff(plain_client, client, db):
    workflow = WorkflowFactory()
    url = f"/dashboard/workflows/{workflow.pk}/dry-run/"
    assert plain_client.post(url, {"test-payload": "{}"}).status_code == 403
    assert client.post(url, {"test-payload": "{}"})["Location"].startswith("/dashboard/login/")


def test_an_unknown_workflow_is_a_404(staff_client):
    response = staff_client.post("/dashboard/workflows/999/dry-run/", {"test-payload": "{}"})
    assert response.status_code == 404
