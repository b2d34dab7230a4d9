"""The workflow's Tests page: add a case as JSON (errors beside the field), run the suite and
read each outcome, delete a case; staff only."""

import json

from tests.factories import WorkflowFactory
from workflows.models import AutomationExecution, WorkflowTest

ACTIONS = [{"id": "t", "type": "transform", "params": {"values": {"n": "{{ trigger.n * 2 }}"}}}]
CASE = {
    "name": "doubles",
    "payload": {"n": 4},
    "expect": [{"path": "steps.t.output.n", "equals": 8}],
}


def url(workflow, tail=""):
    return f"/dashboard/workflows/{workflow.pk}/tests/{tail}"


def test_a_case_is_added_run_and_deleted_from_the_page(staff_client):
    workflow = WorkflowFactory(actions=ACTIONS)
    detail = staff_client.get(f"/dashboard/workflows/{workflow.pk}/").content.decode()
    assert f'href="/dashboard/workflows/{workflow.pk}/tests/"' in detail
    response = staff_client.post(url(workflow), {"case": json.dumps(CASE)})
    assert response.status_code == 302
    wrong = {**CASE, "name": "wrong", "expect": [{"path": "steps.t.output.n", "equals": 9}]}
    staff_client.post(url(workflow), {"case": json.dumps(wrong)})
    page = staff_client.post(url(workflow, "run/")).content.decode()
    assert "1 passed, 1 failed" in page
    assert "steps.t.output.n: expected 9, got 8" in page
    assert AutomationExecution.objects.count() == 0
    case = WorkflowTest.objects.get(name="wrong")
    staff_client.post(url(workflow, f"{case.pk}/delete/"))
    assert list(WorkflowTest.objects.values_list("name", flat=True)) == ["doubles"]


def test_a_bad_case_is_a_400_beside_the_field(staff_client):
    workflow = WorkflowFactory(actions=ACTIONS)
    bad = {**CASE, "expect": [{"path": "status"}]}
    response = staff_client.post(url(workflow), {"case": json.dumps(bad)})
    assert response.status_code == 400
    assert "Give exactly one of: equals, contains, matches." in response.content.decode()
    assert staff_client.post(url(workflow), {"case": "{oops"}).status_code == 400
    staff_client.post(url(workflow), {"case": json.dumps(CASE)})
    again = staff_client.post(url(workflow), {"case": json.dumps(CASE)})
    assert again.status_code == 400
    assert "has a test so named" in again.content.decode()
    assert WorkflowTest.objects.count() == 1


def test_plain_users_get_the_forbidden_page(client, plain_user):
    client.force_login(plain_user)
    workflow = WorkflowFactory(actions=ACTIONS)
    assert client.post(url(workflow), {"case": json.dumps(CASE)}).status_code == 403
    assert client.post(url(workflow, "run/")).status_code == 403
    assert WorkflowTest.objects.count() == 0
