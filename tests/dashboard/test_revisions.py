"""Workflow revisions on the Workflows tab: the history (number, who, when, change note), a diff
between any two revisions, and restore with the diff shown before it is confirmed."""

from tests.dashboard.data import greeting, workflow_with_three_revisions
from tests.factories import WorkflowFactory
from workflows.models import AutomationWorkflow, WorkflowRevision
from workflows.services.executions import execution_create


def revisions_url(workflow: AutomationWorkflow, query: str = "") -> str:
    return f"/dashboard/workflows/{workflow.pk}/revisions/{query}"


def restore_url(workflow: AutomationWorkflow, number: int) -> str:
    return f"/dashboard/workflows/{workflow.pk}/revisions/{number}/restore/"


def test_the_workflow_page_lists_revisions_with_who_when_and_why(staff_client, staff_user):
    workflow = workflow_with_three_revisions(staff_user)
    response = staff_client.get(f"/dashboard/workflows/{workflow.pk}/")
    assert [revision.number for revision in response.context["revisions"]] == [3, 2, 1]
    page = response.content.decode()
    row = page.split('id="revision-2"')[1].split("</tr>")[0]
    assert "Greet by name" in row and "Changed: actions" in row
    assert f"<td>{staff_user.username}</td>" in row and "<time datetime=" in row
    assert "Restore<span" in row
    current = page.split('id="revision-3"')[1].split("</tr>")[0]
    assert "current" in current and "Restore" not in current
    assert "All 3 revisions; compare any two" in page


def test_a_workflow_without_revisions_says_so(staff_client):
    workflow = WorkflowFactory()
    page = staff_client.get(f"/dashboard/workflows/{workflow.pk}/").content.decode()
    assert "No revision recorded yet" in page


def test_by_default_the_latest_revision_is_compared_with_the_one_before(staff_client, staff_user):
    workflow = workflow_with_three_revisions(staff_user)
    response = staff_client.get(revisions_url(workflow))
    diff = response.context["revision_diff"]
    assert (diff.old.number, diff.new.number, diff.changed_fields) == (2, 3, ["name"])
    page = response.content.decode()
    assert 'class="diff-split"' in page and "Changed: <code>name</code>" in page
    assert "Revision 2</th>" in page and "Revision 3</th>" in page


def test_any_two_revisions_can_be_compared_side_by_side(staff_client, staff_user):
    workflow = workflow_with_three_revisions(staff_user)
    response = staff_client.get(revisions_url(workflow, "?from_revision=1&to_revision=3"))
    rows = response.context["diff"].rows
    changed = {
        (row.old_text.strip(), row.new_text.strip()) for row in rows if row.kind == "replace"
    }
    assert ('"greeting": "Hello"', '"greeting": "Hello {{ trigger.name }}"') in changed
    assert ('"name": "Greeter",', '"name": "Greeter v2",') in changed


def test_the_unified_diff_marks_added_and_removed_lines(staff_client, staff_user):
    workflow = workflow_with_three_revisions(staff_user)
    page = staff_client.get(
        revisions_url(workflow, "?from_revision=3&to_revision=1&mode=unified")
    ).content.decode()
    assert '<span class="diff-header">--- revision 3</span>' in page
    assert '<span class="diff-remove">-  &quot;name&quot;: &quot;Greeter v2&quot;,</span>' in page
    assert '<span class="diff-add">+  &quot;name&quot;: &quot;Greeter&quot;,</span>' in page


def test_comparing_a_revision_that_does_not_exist_is_a_404(staff_client, staff_user):
    workflow = workflow_with_three_revisions(staff_user)
    response = staff_client.get(revisions_url(workflow, "?from_revision=1&to_revision=9"))
    assert response.status_code == 404


def test_restore_shows_the_diff_first_and_changes_nothing_until_confirmed(staff_client, staff_user):
    workflow = workflow_with_three_revisions(staff_user)
    response = staff_client.get(restore_url(workflow, 1))
    page = response.content.decode()
    assert "Restore revision 1 of “Greeter v2”?" in page
    assert "Greeter v2" in page and "Hello {{ trigger.name }}" in page
    assert '<label for="id_change_note">Change note</label>' in page
    assert "csrfmiddlewaretoken" in page
    assert WorkflowRevision.objects.filter(workflow=workflow).count() == 3


def test_a_confirmed_restore_records_a_new_revision_by_the_user_with_the_note(
    staff_client, staff_user
):
    workflow = workflow_with_three_revisions(staff_user)
    response = staff_client.post(
        restore_url(workflow, 1), {"change_note": "Back to the plain greeting"}, follow=True
    )
    assert "Restored revision 1 (recorded as revision 4)." in response.content.decode()
    workflow.refresh_from_db()
    assert (workflow.name, workflow.actions) == ("Greeter", greeting("Hello"))
    latest = WorkflowRevision.objects.get(workflow=workflow, number=4)
    assert (latest.created_by, latest.change_note) == (staff_user, "Back to the plain greeting")
    assert latest.definition["actions"] == greeting("Hello")
    assert WorkflowRevision.objects.filter(workflow=workflow).count() == 4


def test_a_restore_without_a_note_says_which_revision_it_restored(staff_client, staff_user):
    workflow = workflow_with_three_revisions(staff_user)
    staff_client.post(restore_url(workflow, 2))
    latest = WorkflowRevision.objects.get(workflow=workflow, number=4)
    assert latest.change_note == "Restored revision 2."


def test_restoring_the_current_definition_changes_nothing(staff_client, staff_user):
    workflow = workflow_with_three_revisions(staff_user)
    response = staff_client.post(restore_url(workflow, 3), follow=True)
    assert "already has revision 3’s definition; nothing changed" in response.content.decode()
    assert WorkflowRevision.objects.filter(workflow=workflow).count() == 3


def test_a_definition_no_longer_valid_is_refused_with_the_reason(staff_client, staff_user):
    workflow = workflow_with_three_revisions(staff_user)
    old = WorkflowRevision.objects.get(workflow=workflow, number=1)
    old.definition["actions"] = [{"id": "gone", "type": "no_such_type", "params": {}}]
    old.save()
    response = staff_client.post(restore_url(workflow, 1))
    assert response.status_code == 400
    errors = response.context["form"].non_field_errors()
    assert any("no_such_type" in error for error in errors)
    assert "no_such_type" in response.content.decode().split('class="form-errors"')[1]
    workflow.refresh_from_db()
    assert workflow.name == "Greeter v2"
    assert WorkflowRevision.objects.filter(workflow=workflow).count() == 3


def test_restoring_a_revision_that_does_not_exist_is_a_404(staff_client, staff_user):
    workflow = workflow_with_three_revisions(staff_user)
    assert staff_client.get(restore_url(workflow, 9)).status_code == 404
    assert staff_client.post(restore_url(workflow, 9)).status_code == 404


def test_restore_accepts_only_staff(plain_client, client, staff_user):
    workflow = workflow_with_three_revisions(staff_user)
    assert plain_client.post(restore_url(workflow, 1)).status_code == 403
    assert client.post(restore_url(workflow, 1))["Location"].startswith("/dashboard/login/")
    assert plain_client.get(revisions_url(workflow)).status_code == 403
    assert WorkflowRevision.objects.filter(workflow=workflow).count() == 3


def test_an_execution_shows_the_revision_it_runs(staff_client, staff_user):
    workflow = workflow_with_three_revisions(staff_user)
    execution, _ = execution_create(workflow=workflow, trigger_type="manual", payload={})
    page = staff_client.get(f"/dashboard/executions/{execution.pk}/").content.decode()
    assert f'<a href="/dashboard/workflows/{workflow.pk}/revisions/">revision 3</a>' in page
