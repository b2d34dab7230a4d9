"""Workflow test suites (SPEC §11): saved cases run in-process with mocked HTTP, nothing kept and
nothing leaving the process, checked by JMESPath equals / contains / matches; over the API and
from manage.py test_workflows (exit 1 on a failure)."""

import socket

import pytest
from django.core.management import call_command

from alerts.models import Notification
from tests.factories import ConnectionFactory, WorkflowFactory
from workflows.models import AutomationExecution, StepEffect, WorkflowTest

pytestmark = pytest.mark.django_db

BASE = "/api/workflow-orchestration"
API = "https://api.example.com/articles"
ACTIONS = [
    {"id": "fetch", "type": "api_call", "params": {"url": API, "extract": {"n": "count"}}},
    {
        "id": "tell",
        "type": "notify",
        "params": {
            "channel": "in_app",
            "recipients": ["staff"],
            "message": "{{ steps.fetch.extracted.n }} articles",
        },
    },
]
PASSING = {
    "name": "counts the articles",
    "payload": {"day": "monday"},
    "mocks": [{"url": API, "method": "GET", "body": {"count": 7}}],
    "expect": [
        {"path": "status", "equals": "completed"},
        {"path": "steps.fetch.output.extracted.n", "equals": 7},
        {"path": "steps.tell.input.message", "contains": "7 articles"},
        {"path": "requests[0]", "matches": "^GET https://api\\.example\\.com/articles$"},
    ],
}


@pytest.fixture
def workflow(staff_user):
    return WorkflowFactory(name="Count", actions=ACTIONS)


def post(api, workflow, case):
    return api.post(f"{BASE}/workflows/{workflow.pk}/tests", case, format="json")


def run(api, workflow, **body):
    response = api.post(f"{BASE}/workflows/{workflow.pk}/tests/run", body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def test_a_passing_case_runs_with_its_mocks_and_keeps_nothing(api, workflow):
    assert post(api, workflow, PASSING).status_code == 201
    outcome = run(api, workflow)
    assert outcome == {
        "passed": 1,
        "failed": 0,
        "cases": [
            {"name": "counts the articles", "ok": True, "failures": [], "status": "completed"}
        ],
    }
    assert AutomationExecution.objects.count() == 0
    assert Notification.objects.count() == 0
    assert StepEffect.objects.count() == 0


def test_a_failing_case_says_what_it_found_instead(api, workflow):
    case = {**PASSING, "expect": [{"path": "steps.fetch.output.extracted.n", "equals": 8}]}
    post(api, workflow, case)
    outcome = run(api, workflow)
    assert (outcome["passed"], outcome["failed"]) == (0, 1)
    assert outcome["cases"][0]["failures"] == ["steps.fetch.output.extracted.n: expected 8, got 7"]


def test_an_unmocked_request_fails_its_step_and_nothing_leaves_the_process(
    api, workflow, monkeypatch
):
    def no_network(*args, **kwargs):
        raise AssertionError("a workflow test opened a connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    case = {"name": "no mocks", "expect": [{"path": "steps.fetch.error", "contains": "not mocked"}]}
    post(api, workflow, case)
    outcome = run(api, workflow)
    assert outcome["cases"][0]["ok"] is True, outcome
    assert outcome["cases"][0]["status"] == "failed"


def test_a_mocked_error_status_and_mail_that_is_not_sent(api, staff_user):
    staff_user.email = "editor@example.com"
    staff_user.save()
    smtp = ConnectionFactory(
        platform="smtp",
        credentials={"password": "secret"},
        config={
            "host": "smtp.example.com",
            "port": 587,
            "from_email": "a@example.com",
            "recipients": ["b@example.com"],
        },
        webhook_url="",
    )
    mailing = WorkflowFactory(
        actions=[
            {
                "id": "mail",
                "type": "notify",
                "params": {"channel": "email", "connection": smtp.pk, "message": "Hi"},
            },
            {"id": "call", "type": "api_call", "params": {"url": API}},
        ]
    )
    case = {
        "name": "upstream down",
        "mocks": [{"url": "https://api.example.com/", "status": 404, "body": "gone"}],
        "expect": [
            {"path": "steps.mail.status", "equals": "completed"},
            {"path": "steps.mail.output.detail", "equals": "not sent: workflow test"},
            {"path": "steps.call.status", "equals": "failed"},
            {"path": "error", "matches": "404"},
        ],
    }
    assert post(api, mailing, case).status_code == 201, post(api, mailing, case).json()
    assert run(api, mailing)["cases"][0]["ok"] is True


def test_only_the_named_cases_run(api, workflow):
    post(api, workflow, PASSING)
    post(
        api,
        workflow,
        {**PASSING, "name": "another", "expect": [{"path": "status", "equals": "failed"}]},
    )
    outcome = run(api, workflow, names=["counts the articles"])
    assert [case["name"] for case in outcome["cases"]] == ["counts the articles"]


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ({"name": "x", "expect": [{"path": "status"}]}, "expect"),
        ({"name": "x", "expect": [{"path": "status", "equals": 1, "matches": "a"}]}, "expect"),
        ({"name": "x", "expect": [{"path": "[[", "equals": 1}]}, "expect"),
        ({"name": "x", "expect": [{"path": "status", "matches": "("}]}, "expect"),
        ({"name": "x", "mocks": [{"url": "not a url"}]}, "mocks"),
        ({"name": "x", "mocks": [{"url": API, "satus": 200}]}, "mocks"),
        ({"name": "x", "payload": [1]}, "payload"),
        ({"name": "x", "expected": []}, "expected"),
    ],
)
def test_a_bad_case_is_a_400_naming_the_field(api, workflow, case, field):
    response = post(api, workflow, case)
    assert response.status_code == 400
    assert field in response.json()
    assert WorkflowTest.objects.count() == 0


def test_two_cases_of_one_workflow_cannot_share_a_name(api, workflow):
    post(api, workflow, PASSING)
    response = post(api, workflow, PASSING)
    assert response.status_code == 400
    assert "name" in response.json()


def test_the_command_exits_1_when_a_case_fails(api, workflow, capsys):
    post(api, workflow, PASSING)
    call_command("test_workflows", "Count")
    assert "ok   Count › counts the articles (completed)" in capsys.readouterr().out
    post(
        api,
        workflow,
        {**PASSING, "name": "wrong", "expect": [{"path": "status", "equals": "failed"}]},
    )
    with pytest.raises(SystemExit) as exited:
        call_command("test_workflows")
    assert exited.value.code == 1
    out = capsys.readouterr().out
    assert "FAIL Count › wrong (completed)" in out
    assert "1 passed, 1 failed" in out


def test_a_mock_by_connection_answers_what_is_sent_through_it(api, staff_user):
    slack = ConnectionFactory(
        platform="slack", webhook_url="", credentials={"token": "xoxb-1"},
        config={"channel": "#news", "api_base_url": "https://slack.internal.example/api"},
    )  # fmt: skip
    workflow = WorkflowFactory(
        actions=[
            {
                "id": "tell",
                "type": "notify",
                "params": {"channel": "slack", "connection": slack.pk, "message": "Out"},
            }
        ]
    )
    case = {
        "name": "slack refuses",
        "mocks": [{"connection": slack.pk, "body": {"ok": False, "error": "channel_not_found"}}],
        "expect": [
            {"path": "steps.tell.status", "equals": "failed"},
            {"path": "steps.tell.error", "contains": "notify via slack failed"},
            {
                "path": "requests[0]",
                "equals": "POST https://slack.internal.example/api/chat.postMessage",
            },
        ],
    }
    assert post(api, workflow, case).status_code == 201
    outcome = run(api, workflow)
    assert outcome["passed"] == 1, outcome
    both = post(
        api, workflow, {**case, "name": "both", "mocks": [{"connection": slack.pk, "url": API}]}
    )
    assert both.status_code == 400
    assert both.json()["mocks"]["0"]["url"] == ["Give exactly one of: url, connection."]
    gone = post(api, workflow, {**case, "name": "gone", "mocks": [{"connection": 999999}]})
    assert gone.status_code == 400
    assert "999999 does not exist" in gone.json()["mocks"]["0"]["connection"][0]


def test_a_child_workflow_runs_inside_the_case_and_its_result_reaches_the_parent(api):
    WorkflowFactory(
        name="Fetch the count",
        actions=[{"id": "fetch", "type": "api_call", "params": {"url": API}}],
    )
    parent = WorkflowFactory(
        actions=[
            {
                "id": "child",
                "type": "run_workflow",
                "params": {"workflow": "Fetch the count", "payload": {"x": 1}},
            },
            {
                "id": "after",
                "type": "transform",
                "params": {"values": {"n": "{{ steps.child.steps.fetch.body.count }}"}},
            },
        ]
    )
    case = {
        "name": "the child counts",
        "mocks": [{"url": API, "body": {"count": 3}}],
        "expect": [
            {"path": "status", "equals": "completed"},
            {"path": "steps.child.output.status", "equals": "completed"},
            {"path": "steps.after.output.n", "equals": 3},
            {"path": "requests", "equals": [f"GET {API}"]},
        ],
    }
    assert post(api, parent, case).status_code == 201
    outcome = run(api, parent)
    assert outcome["cases"][0]["failures"] == [] and outcome["passed"] == 1
    assert not AutomationExecution.objects.exists()
