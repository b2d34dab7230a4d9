"""Drafts: edits saved to a workflow's draft change nothing that runs; dry runs and the test
suite run the draft; publishing makes it live as a new revision, and with
publish_requires_tests only when the suite passes on it."""

import json

import pytest
from django.test import Client

from tests.factories import WorkflowFactory
from workflows.engine import execution_run
from workflows.models import AuditEntry, AutomationWorkflow, WorkflowDraft
from workflows.services.executions import execution_create
from workflows.services.workflows import workflow_create

pytestmark = pytest.mark.django_db

BASE = "/api/workflow-orchestration"
LIVE = [{"id": "say", "type": "transform", "params": {"values": {"text": "live"}}}]
DRAFT = [{"id": "say", "type": "transform", "params": {"values": {"text": "draft"}}}]
SAYS_DRAFT = {
    "name": "says draft",
    "expect": [{"path": "steps.say.output.text", "equals": "draft"}],
}


@pytest.fixture
def workflow(staff_user):
    data = {"name": "Greeting", "trigger": {"type": "manual"}, "actions": LIVE}
    return workflow_create(data=data, user=staff_user)


def draft_url(workflow) -> str:
    return f"{BASE}/workflows/{workflow.pk}/draft"


def test_a_saved_draft_changes_nothing_that_runs(api, workflow):
    saved = api.put(draft_url(workflow), {"actions": DRAFT}, format="json")
    assert saved.status_code == 200, saved.json()
    assert saved.json()["changed_fields"] == ["actions"]
    assert saved.json()["based_on"] == 1 and saved.json()["updated_by"] == "staff"
    assert saved.json()["definition"]["actions"] == DRAFT
    assert saved.json()["definition"]["name"] == "Greeting"
    live = api.get(f"{BASE}/workflows/{workflow.pk}").json()
    assert live["actions"] == LIVE and live["version"] == 1
    execution, _ = execution_create(workflow=workflow, trigger_type="manual")
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    assert execution.context["steps"]["say"] == {"text": "live"}
    renamed = api.put(draft_url(workflow), {"name": "Greeting v2"}, format="json").json()
    assert renamed["changed_fields"] == ["name", "actions"]
    assert AuditEntry.objects.filter(action="draft_saved").count() == 2


def test_dry_runs_and_tests_run_the_draft_when_asked(api, workflow):
    api.put(draft_url(workflow), {"actions": DRAFT}, format="json")
    dry = api.post(f"{draft_url(workflow)}/dry-run", {}, format="json").json()
    assert dry["steps"][0]["output"] == {"text": "draft"}
    live_dry = api.post(f"{BASE}/workflows/{workflow.pk}/dry-run", {}, format="json").json()
    assert live_dry["steps"][0]["output"] == {"text": "live"}
    api.post(f"{BASE}/workflows/{workflow.pk}/tests", SAYS_DRAFT, format="json")
    run = f"{BASE}/workflows/{workflow.pk}/tests/run"
    assert api.post(run, {"draft": True}, format="json").json()["passed"] == 1
    assert api.post(run, {}, format="json").json()["failed"] == 1


def test_publishing_makes_the_draft_live_as_a_new_revision(api, workflow):
    api.put(draft_url(workflow), {"actions": DRAFT, "name": "Greeting v2"}, format="json")
    published = api.post(f"{draft_url(workflow)}/publish", {"change_note": "Warmer"}, format="json")
    assert published.status_code == 200
    assert published.json()["actions"] == DRAFT and published.json()["version"] == 2
    revisions = api.get(f"{BASE}/workflows/{workflow.pk}/revisions").json()
    numbers = [revision["number"] for revision in revisions["results"]]
    assert numbers == [2, 1]
    assert revisions["results"][0]["change_note"] == "Warmer"
    assert api.get(draft_url(workflow)).status_code == 404
    assert AuditEntry.objects.filter(action="published").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"actions": [{"id": "x", "type": "teleport"}]}, "actions"),
        ({"is_active": False}, "is_active"),
        ({"schedule": "61 * * * *"}, "schedule"),
        ({"actionz": []}, "actionz"),
    ],
)
def test_a_bad_draft_is_a_400_naming_the_field_and_saves_nothing(api, workflow, body, field):
    response = api.put(draft_url(workflow), body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not WorkflowDraft.objects.exists()


def test_publish_requires_tests_refuses_a_draft_the_suite_fails_and_changes_nothing(api, workflow):
    api.patch(f"{BASE}/workflows/{workflow.pk}", {"publish_requires_tests": True}, format="json")
    api.put(draft_url(workflow), {"actions": [*LIVE, DRAFT[0] | {"id": "other"}]}, format="json")
    publish = f"{draft_url(workflow)}/publish"
    no_cases = api.post(publish, {}, format="json")
    assert no_cases.status_code == 409
    assert "no test case" in no_cases.json()["detail"]
    api.post(f"{BASE}/workflows/{workflow.pk}/tests", SAYS_DRAFT, format="json")
    refused = api.post(publish, {}, format="json")
    assert refused.status_code == 409
    assert refused.json()["tests"]["failed"] == 1
    assert "1 of 1 test cases failed" in refused.json()["detail"]
    assert AutomationWorkflow.objects.get(pk=workflow.pk).actions == LIVE
    assert api.get(draft_url(workflow)).status_code == 200
    api.put(draft_url(workflow), {"actions": DRAFT}, format="json")
    assert api.post(publish, {}, format="json").status_code == 200
    assert AutomationWorkflow.objects.get(pk=workflow.pk).actions == DRAFT


def test_a_draft_is_discarded_and_missing_drafts_are_404s(api, workflow):
    assert api.get(draft_url(workflow)).status_code == 404
    assert api.post(f"{draft_url(workflow)}/publish", {}, format="json").status_code == 404
    assert api.post(f"{draft_url(workflow)}/dry-run", {}, format="json").status_code == 404
    api.put(draft_url(workflow), {"actions": DRAFT}, format="json")
    assert api.delete(draft_url(workflow)).status_code == 204
    assert api.delete(draft_url(workflow)).status_code == 404
    assert AutomationWorkflow.objects.get(pk=workflow.pk).actions == LIVE


def test_plain_users_cannot_touch_drafts(plain_api):
    workflow = WorkflowFactory()
    assert plain_api.put(draft_url(workflow), {"name": "x"}, format="json").status_code == 403


def test_the_revisions_page_shows_the_draft_above_the_history(api, workflow, staff_user):
    api.put(draft_url(workflow), {"actions": DRAFT}, format="json")
    browser = Client()
    browser.force_login(staff_user)
    page = browser.get(f"/dashboard/workflows/{workflow.pk}/revisions/").content.decode()
    assert "Draft (not live)" in page
    assert "It changes <code>actions</code>." in page, page[page.find("draft-heading") :][:800]
    assert page.index('id="draft"') < page.index('id="history-heading"')


def test_with_publish_requires_tests_the_definition_changes_only_through_the_draft(
    api, workflow, staff_user
):
    api.patch(f"{BASE}/workflows/{workflow.pk}", {"publish_requires_tests": True}, format="json")
    direct = api.patch(f"{BASE}/workflows/{workflow.pk}", {"actions": DRAFT}, format="json")
    assert direct.status_code == 400
    assert "goes live through its draft" in direct.json()["actions"][0]
    assert AutomationWorkflow.objects.get(pk=workflow.pk).actions == LIVE
    renamed = api.patch(f"{BASE}/workflows/{workflow.pk}", {"name": "Hello"}, format="json")
    assert renamed.status_code == 200, "a name is no behaviour: it changes at once"
    import_document = {"workflows": [{"name": "Hello", "trigger": {"type": "manual"},
                                      "actions": DRAFT}]}  # fmt: skip
    imported = api.post(f"{BASE}/workflows/import", import_document, format="json")
    assert imported.status_code == 400
    assert "goes live through its draft" in json.dumps(imported.json())
    assert AutomationWorkflow.objects.get(pk=workflow.pk).actions == LIVE


def editor_form(**overrides):
    data = {
        "name": "Greeting", "description": "", "workflow_type": "custom",
        "trigger": json.dumps({"type": "manual"}), "schedule": "", "actions": json.dumps(DRAFT),
        "max_concurrency": "", "is_active": "on", "webhook_secret": "",
    }  # fmt: skip
    return {**data, **overrides}


def test_the_editor_saves_to_the_draft_and_revisions_publishes_it_when_tests_pass(
    api, workflow, staff_user
):
    api.patch(f"{BASE}/workflows/{workflow.pk}", {"publish_requires_tests": True}, format="json")
    browser = Client()
    browser.force_login(staff_user)
    saved = browser.post(f"/dashboard/workflows/{workflow.pk}/edit/", editor_form(), follow=True)
    assert saved.redirect_chain[-1][0] == f"/dashboard/workflows/{workflow.pk}/revisions/"
    page = saved.content.decode()
    assert "Saved to the draft" in page, page[page.find("<main") :][:1500]
    assert "It changes <code>actions</code>." in page, page[page.find("draft-heading") :][:800]
    assert AutomationWorkflow.objects.get(pk=workflow.pk).actions == LIVE
    publish = f"/dashboard/workflows/{workflow.pk}/draft/publish/"
    refused = browser.post(publish, follow=True).content.decode()
    assert "no test case" in refused
    api.post(f"{BASE}/workflows/{workflow.pk}/tests", SAYS_DRAFT, format="json")
    done = browser.post(publish, follow=True).content.decode()
    assert "Published: “Greeting” is at version 2." in done
    assert AutomationWorkflow.objects.get(pk=workflow.pk).actions == DRAFT
    assert not WorkflowDraft.objects.exists()


def test_the_revisions_page_discards_the_draft(api, workflow, staff_user):
    api.put(draft_url(workflow), {"actions": DRAFT}, format="json")
    browser = Client()
    browser.force_login(staff_user)
    page = browser.post(
        f"/dashboard/workflows/{workflow.pk}/draft/discard/", follow=True
    ).content.decode()
    assert "Draft discarded" in page
    assert not WorkflowDraft.objects.exists()
    assert AutomationWorkflow.objects.get(pk=workflow.pk).actions == LIVE


def test_the_admin_refuses_a_definition_edit_that_must_go_through_the_draft(
    api, workflow, admin_client
):
    api.patch(f"{BASE}/workflows/{workflow.pk}", {"publish_requires_tests": True}, format="json")
    page = admin_client.get(f"/admin/workflows/automationworkflow/{workflow.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(actions=json.dumps(DRAFT), trigger=json.dumps(workflow.trigger))
    data = {key: json.dumps(value) if isinstance(value, list | dict) else value
            for key, value in data.items()}  # fmt: skip
    answer = admin_client.post(f"/admin/workflows/automationworkflow/{workflow.pk}/change/", data)
    assert answer.status_code == 200
    assert "goes live through its draft" in answer.content.decode()
    assert AutomationWorkflow.objects.get(pk=workflow.pk).actions == LIVE


def test_publishing_keeps_a_live_edit_made_meanwhile_to_a_field_the_draft_left_alone(api, workflow):
    api.put(draft_url(workflow), {"actions": DRAFT}, format="json")
    api.patch(f"{BASE}/workflows/{workflow.pk}", {"name": "Renamed live"}, format="json")
    assert api.get(draft_url(workflow)).json()["changed_fields"] == ["actions"]
    published = api.post(f"{draft_url(workflow)}/publish", {}, format="json").json()
    assert (published["name"], published["actions"]) == ("Renamed live", DRAFT)
