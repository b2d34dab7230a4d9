"""Workflow definition history: a revision per definition change, list, detail, diff, restore;
executions pinned to their revision and to the article's content version."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.conftest import wait_for
from tests.factories import ConnectionFactory, UserFactory
from versioning.services import article_create, article_update
from workflows.models import AutomationExecution, AutomationWorkflow, WorkflowRevision
from workflows.revisions import REVISION_FIELDS

pytestmark = pytest.mark.django_db

BASE = "/api/workflow-orchestration"


def transform(value: object) -> list[dict]:
    return [{"id": "set", "type": "transform", "params": {"values": {"x": value}}}]


@pytest.fixture
def workflow_id(api) -> int:
    response = api.post(
        f"{BASE}/workflows",
        {"name": "Digest", "actions": transform(1), "change_note": "First draft"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert "change_note" not in response.json()
    return response.json()["id"]


def edit(api, workflow_id: int, **fields) -> None:
    response = api.patch(f"{BASE}/workflows/{workflow_id}", fields, format="json")
    assert response.status_code == 200, response.json()


def test_creating_a_workflow_records_revision_1_with_its_author_and_note(api, workflow_id):
    revision = WorkflowRevision.objects.get(workflow_id=workflow_id)
    assert revision.number == 1
    assert revision.created_by.username == "staff"
    assert revision.change_note == "First draft"
    assert revision.definition == {
        "name": "Digest",
        "description": "",
        "workflow_type": "custom",
        "trigger": {"type": "manual"},
        "actions": transform(1),
        "schedule": None,
        "max_concurrency": None,
        "overlap_policy": "allow",
    }


def test_each_definition_change_records_the_next_revision_with_what_changed(api, workflow_id):
    edit(api, workflow_id, actions=transform(2), change_note="Bump x")
    edit(api, workflow_id, name="Daily digest", max_concurrency=2)
    revisions = WorkflowRevision.objects.filter(workflow_id=workflow_id).order_by("number")
    assert [(r.number, r.changed_fields, r.change_note) for r in revisions] == [
        (1, list(REVISION_FIELDS), "First draft"),
        (2, ["actions"], "Bump x"),
        (3, ["name", "max_concurrency", "overlap_policy"], ""),
    ]
    assert revisions[2].definition["actions"] == transform(2)


def test_restoring_a_revision_from_before_overlap_policy_derives_it_from_its_limit(
    api, workflow_id
):
    edit(api, workflow_id, overlap_policy="skip")
    old = WorkflowRevision.objects.get(workflow_id=workflow_id, number=1)
    del old.definition["overlap_policy"]
    old.definition["max_concurrency"] = 3
    old.save()
    response = api.post(f"{BASE}/workflows/{workflow_id}/revisions/1/restore", {}, format="json")
    assert response.status_code == 201, response.json()
    restored = api.get(f"{BASE}/workflows/{workflow_id}").json()
    assert (restored["overlap_policy"], restored["max_concurrency"]) == ("queue", 3)


def test_a_write_that_changes_no_definition_field_records_no_revision(api, workflow_id):
    edit(api, workflow_id, actions=transform(1), schedule=None)
    edit(api, workflow_id, is_active=False)
    assert WorkflowRevision.objects.filter(workflow_id=workflow_id).count() == 1


def test_the_history_is_paginated_newest_first_without_definitions(api, workflow_id):
    for value in (2, 3, 4):
        edit(api, workflow_id, actions=transform(value))
    response = api.get(f"{BASE}/workflows/{workflow_id}/revisions?page_size=3")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4 and body["next"]
    assert [item["number"] for item in body["results"]] == [4, 3, 2]
    assert body["results"][0]["created_by"] == "staff"
    assert "definition" not in body["results"][0]


def test_one_revision_shows_its_definition_and_a_missing_one_is_404(api, workflow_id):
    edit(api, workflow_id, actions=transform(2))
    response = api.get(f"{BASE}/workflows/{workflow_id}/revisions/1/")
    assert response.status_code == 200
    assert response.json()["definition"]["actions"] == transform(1)
    assert api.get(f"{BASE}/workflows/{workflow_id}/revisions/9").status_code == 404
    assert api.get(f"{BASE}/workflows/999999/revisions/1").status_code == 404


def test_the_diff_of_two_revisions_lists_changed_fields_and_a_unified_diff(api, workflow_id):
    edit(api, workflow_id, actions=transform(2), description="Sent at nine")
    response = api.get(f"{BASE}/workflows/{workflow_id}/revisions/1/diff/2")
    assert response.status_code == 200
    body = response.json()
    assert (body["from_number"], body["to_number"]) == (1, 2)
    assert body["changed_fields"] == ["description", "actions"]
    lines = body["unified"].splitlines()
    assert lines[:2] == ["--- revision 1", "+++ revision 2"]
    assert '-  "description": "",' in lines
    assert '+  "description": "Sent at nine",' in lines
    assert '-          "x": 1' in lines and '+          "x": 2' in lines
    assert api.get(f"{BASE}/workflows/{workflow_id}/revisions/1/diff/5").status_code == 404


def test_restore_applies_an_old_definition_as_a_new_revision(api, workflow_id):
    edit(api, workflow_id, actions=transform(2), name="Renamed")
    response = api.post(f"{BASE}/workflows/{workflow_id}/revisions/1/restore", format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["number"] == 3
    assert response.json()["change_note"] == "Restored revision 1."
    workflow = AutomationWorkflow.objects.get(pk=workflow_id)
    assert (workflow.name, workflow.actions, workflow.version) == ("Digest", transform(1), 3)
    history = WorkflowRevision.objects.filter(workflow_id=workflow_id).order_by("number")
    assert [r.definition["actions"] for r in history] == [transform(1), transform(2), transform(1)]
    assert history[2].changed_fields == ["name", "actions"]


def test_restoring_the_current_definition_records_nothing(api, workflow_id):
    response = api.post(
        f"{BASE}/workflows/{workflow_id}/revisions/1/restore", {"change_note": "x"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["number"] == 1
    assert WorkflowRevision.objects.filter(workflow_id=workflow_id).count() == 1


def test_a_revision_that_no_longer_validates_is_not_restored(api):
    connection = ConnectionFactory()
    params = {"channel": "webhook", "connection": connection.pk, "message": "hi"}
    notify = [{"id": "tell", "type": "notify", "params": params}]
    workflow_id = api.post(
        f"{BASE}/workflows", {"name": "Tell", "actions": notify}, format="json"
    ).json()["id"]
    edit(api, workflow_id, actions=transform(1))
    connection.delete()
    response = api.post(f"{BASE}/workflows/{workflow_id}/revisions/1/restore", format="json")
    assert response.status_code == 400
    assert "connection" in str(response.json())
    assert WorkflowRevision.objects.filter(workflow_id=workflow_id).count() == 2


def test_executions_carry_the_revision_they_were_created_with(api, workflow_id):
    first = api.post(f"{BASE}/workflows/{workflow_id}/execute", {}, format="json").json()
    edit(api, workflow_id, actions=transform(2))
    second = api.post(f"{BASE}/workflows/{workflow_id}/execute", {}, format="json").json()
    numbers = [
        api.get(f"{BASE}/executions/{started['execution_id']}").json()["revision"]
        for started in (first, second)
    ]
    assert numbers == [1, 2]


def test_a_run_about_an_article_is_pinned_to_the_content_version_it_started_with(api, workflow_id):
    article = article_create(data={"title": "Hello", "content": "One."}).article
    article_update(article=article, data={"content": "Two."})
    started = api.post(
        f"{BASE}/workflows/{workflow_id}/execute", {"article_id": article.pk}, format="json"
    ).json()
    article_update(article=article, data={"content": "Three."})
    detail = api.get(f"{BASE}/executions/{started['execution_id']}").json()
    assert detail["article_version"] == {"article_id": article.pk, "version_number": 2}
    assert detail["context"]["article"]["version_number"] == 2


def test_a_run_about_no_article_has_no_article_version(api, workflow_id):
    started = api.post(f"{BASE}/workflows/{workflow_id}/execute", {}, format="json").json()
    assert api.get(f"{BASE}/executions/{started['execution_id']}").json()["article_version"] is None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "revisions"),
        ("get", "revisions/1"),
        ("get", "revisions/1/diff/1"),
        ("post", "revisions/1/restore"),
    ],
)
def test_revisions_are_for_staff_only(api, plain_api, workflow_id, method, path):
    url = f"{BASE}/workflows/{workflow_id}/{path}"
    assert getattr(plain_api, method)(url).status_code == 403
    assert getattr(APIClient(), method)(url).status_code == 401


def test_the_admin_shows_the_history_under_the_workflow(client, api, workflow_id):
    edit(api, workflow_id, actions=transform(2), change_note="Second thoughts")
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    page = client.get(f"/admin/workflows/automationworkflow/{workflow_id}/change/")
    assert page.status_code == 200
    assert b"Second thoughts" in page.content
    assert b"First draft" in page.content


@pytest.mark.worker
@pytest.mark.usefixtures("allow_loopback")
def test_an_execution_after_a_restore_runs_the_restored_definition_on_a_worker(
    api, workflow_id, start_worker
):
    edit(api, workflow_id, actions=transform(2))
    api.post(f"{BASE}/workflows/{workflow_id}/revisions/1/restore", format="json")
    start_worker()
    started = api.post(f"{BASE}/workflows/{workflow_id}/execute", {}, format="json").json()
    execution = wait_for(
        lambda: AutomationExecution.objects.filter(
            pk=started["execution_id"], status="completed"
        ).first()
    )
    assert execution.context["steps"]["set"] == {"x": 1}
    assert execution.revision.number == 3


def test_numbers_too_large_for_the_database_are_404_not_500(api, workflow_id):
    big = "9" * 30
    for path in (f"revisions/{big}", f"revisions/1/diff/{big}", f"revisions/{big}/diff/1"):
        assert api.get(f"{BASE}/workflows/{workflow_id}/{path}").status_code == 404
    assert api.post(f"{BASE}/workflows/{workflow_id}/revisions/{big}/restore").status_code == 404
    assert api.get(f"{BASE}/workflows/{big}/revisions").status_code == 404


def test_the_history_takes_the_same_queries_however_long_it_is(api, workflow_id):
    def queries_for_listing() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get(f"{BASE}/workflows/{workflow_id}/revisions").status_code == 200
        return len(captured)

    short = queries_for_listing()
    for value in range(2, 8):
        edit(api, workflow_id, actions=transform(value))
    assert queries_for_listing() == short
