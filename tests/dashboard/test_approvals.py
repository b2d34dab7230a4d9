"""Approvals on the Executions tab: a waiting execution shows its badge; one waiting on an approval
step shows the question with Approve / Reject and a comment; the decision is recorded on the step,
the execution resumes, and the page says who decided. Waiting executions can be cancelled."""

import pytest
from django.test import Client

from tests.dashboard.data import (
    APPROVAL_ACTIONS,
    APPROVAL_MESSAGE,
    execution_waiting_for_approval,
)
from tests.factories import (
    ExecutionFactory,
    ExecutionStepFactory,
    UserFactory,
    WorkflowFactory,
)
from workflows.engine import execution_run
from workflows.models import AutomationExecution
from workflows.services.executions import execution_create, execution_decide


def paused_on_approval(**params) -> AutomationExecution:
    """A manual run of an approval-then-transform workflow, paused by the real engine."""
    actions = [
        {**APPROVAL_ACTIONS[0], "params": {**APPROVAL_ACTIONS[0]["params"], **params}},
        APPROVAL_ACTIONS[1],
    ]
    execution, _ = execution_create(
        workflow=WorkflowFactory(actions=actions), trigger_type="manual", payload={}
    )
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    assert execution.status == "waiting"
    return execution


def resumed(execution: AutomationExecution) -> AutomationExecution:
    """What a worker does with the execution once it is queued again."""
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    return execution


def detail(client: Client, execution: AutomationExecution) -> str:
    return client.get(f"/dashboard/executions/{execution.pk}/").content.decode()


def test_a_waiting_execution_shows_its_badge_on_the_executions_tab(staff_client):
    execution = ExecutionFactory(status="waiting")
    ExecutionFactory(status="completed")
    response = staff_client.get("/dashboard/executions/?status=waiting")
    assert [row.pk for row in response.context["rows"]] == [execution.pk]
    page = response.content.decode()
    assert '<span class="badge badge-warn">waiting</span>' in page
    assert '<option value="waiting" selected>Waiting</option>' in page


def test_the_detail_asks_the_question_with_approve_reject_and_a_comment(staff_client):
    execution = paused_on_approval(timeout_s=3600)
    page = detail(staff_client, execution)
    assert "Approval needed" in page and APPROVAL_MESSAGE in page
    assert "if nobody decides by" in page and "it is rejected automatically" in page
    assert '<label for="id_comment">Comment</label>' in page
    assert f'formaction="/dashboard/executions/{execution.pk}/approve/"' in page
    assert f'formaction="/dashboard/executions/{execution.pk}/reject/"' in page
    assert "csrfmiddlewaretoken" in page
    assert 'id="execution-cancel"' in page, "a waiting execution can be cancelled"


def test_approving_through_the_page_records_the_decision_and_resumes_the_run(
    staff_client, staff_user
):
    execution = paused_on_approval()
    response = staff_client.post(
        f"/dashboard/executions/{execution.pk}/approve/", {"comment": "Ship it"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/executions/{execution.pk}/"
    execution.refresh_from_db()
    step = execution.steps.get(step_id="ask")
    assert execution.status == "queued"
    assert step.output["decision"] == "approved"
    assert (step.output["decided_by"], step.output["comment"]) == (staff_user.username, "Ship it")
    assert step.output["decided_at"]
    page = detail(staff_client, execution)
    assert "Approval needed" not in page
    assert f"by <strong>{staff_user.username}</strong>" in page and "<q>Ship it</q>" in page

    execution = resumed(execution)
    assert execution.status == "completed"
    assert execution.context["steps"]["after"] == {"done": True}
    page = detail(staff_client, execution)
    assert '<span class="badge badge-ok">approved</span>' in page
    assert f"by <strong>{staff_user.username}</strong>" in page and "<q>Ship it</q>" in page


def test_rejecting_through_the_page_fails_the_run_at_the_approval_step(staff_client, staff_user):
    execution = paused_on_approval()
    response = staff_client.post(
        f"/dashboard/executions/{execution.pk}/reject/", {"comment": "Not this week"}, follow=True
    )
    assert f"Execution #{execution.pk} rejected" in response.content.decode()
    step = execution.steps.get(step_id="ask")
    assert (step.output["decision"], step.output["comment"]) == ("rejected", "Not this week")
    assert '<span class="badge badge-bad">rejected</span>' in response.content.decode()

    execution = resumed(execution)
    assert execution.status == "failed"
    assert execution.steps.get(step_id="ask").status == "failed"
    assert not execution.steps.filter(step_id="after").exists()
    assert f"Rejected by {staff_user.username}: Not this week" in detail(staff_client, execution)


def test_the_comment_is_optional(staff_client):
    execution = paused_on_approval()
    staff_client.post(f"/dashboard/executions/{execution.pk}/approve/")
    step = execution.steps.get(step_id="ask")
    assert (step.output["decision"], step.output["comment"]) == ("approved", "")


def test_deciding_twice_is_a_409_that_says_why(staff_client):
    execution = paused_on_approval()
    staff_client.post(f"/dashboard/executions/{execution.pk}/approve/")
    response = staff_client.post(
        f"/dashboard/executions/{execution.pk}/reject/", {"comment": "too late"}
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert f"Execution {execution.pk} is not waiting for an approval." in page
    assert "Approval needed" not in page
    assert execution.steps.get(step_id="ask").output["decision"] == "approved"


def test_deciding_on_a_finished_execution_is_a_409(staff_client):
    execution = ExecutionFactory(status="completed")
    response = staff_client.post(f"/dashboard/executions/{execution.pk}/approve/")
    assert response.status_code == 409
    assert "is not waiting for an approval" in response.content.decode()
    execution.refresh_from_db()
    assert execution.status == "completed"


def test_a_comment_too_long_is_refused_beside_the_field(staff_client):
    execution = paused_on_approval()
    response = staff_client.post(
        f"/dashboard/executions/{execution.pk}/approve/", {"comment": "x" * 2001}
    )
    assert response.status_code == 400
    assert "at most 2000 characters" in response.context["decision_form"].errors["comment"][0]
    assert 'id="id_comment_errors"' in response.content.decode()
    execution.refresh_from_db()
    assert execution.status == "waiting"
    assert "decision" not in execution.steps.get(step_id="ask").output


def test_the_comment_being_typed_survives_the_pages_polling(staff_client):
    execution = execution_waiting_for_approval()
    live = staff_client.get(f"/dashboard/executions/{execution.pk}/live/").content.decode()
    assert 'hx-trigger="every' in live
    assert '<div id="approval-comment" hx-preserve="true">' in live


def test_a_waiting_execution_is_cancelled_at_once(staff_client):
    execution = execution_waiting_for_approval()
    response = staff_client.post(f"/dashboard/executions/{execution.pk}/cancel/", follow=True)
    execution.refresh_from_db()
    assert execution.status == "cancelled"
    assert f"Execution #{execution.pk} cancelled." in response.content.decode()
    assert "Approval needed" not in response.content.decode()


def test_a_wait_step_has_nothing_to_approve(staff_client):
    execution = ExecutionFactory(status="waiting")
    ExecutionStepFactory(
        execution=execution,
        step_type="wait",
        status="waiting",
        output={"resume_at": "2030-01-01T00:00:00+00:00", "waiting_for": "wait"},
    )
    page = detail(staff_client, execution)
    assert "Approval needed" not in page and 'id="execution-approve"' not in page
    assert 'id="execution-cancel"' in page


def test_an_approval_decided_by_its_timeout_says_so(staff_client):
    execution = ExecutionFactory(status="completed")
    ExecutionStepFactory(
        execution=execution,
        step_id="ask",
        step_type="approval",
        output={"approved": True, "timed_out": True, "message": APPROVAL_MESSAGE},
    )
    page = detail(staff_client, execution)
    assert "automatically: nobody decided before the deadline" in page


@pytest.mark.parametrize("verb", ["approve", "reject"])
def test_approve_and_reject_accept_only_post(staff_client, verb):
    execution = execution_waiting_for_approval()
    assert staff_client.get(f"/dashboard/executions/{execution.pk}/{verb}/").status_code == 405


@pytest.mark.parametrize("verb", ["approve", "reject"])
def test_only_staff_decide(plain_client, client, verb):
    execution = execution_waiting_for_approval()
    url = f"/dashboard/executions/{execution.pk}/{verb}/"
    assert plain_client.post(url).status_code == 403
    assert client.post(url)["Location"].startswith("/dashboard/login/")
    execution.refresh_from_db()
    assert execution.status == "waiting"
    assert "decision" not in execution.steps.get().output


def test_the_panel_names_the_approvers_counts_votes_and_edits_the_declared_fields(staff_client):
    alice = UserFactory(username="alice", is_staff=True)
    execution = paused_on_approval(
        approvers={"users": ["alice", "staff"]},
        quorum=2,
        fields={"share_message": "Draft text"},
    )
    execution_decide(execution=execution, approved=True, user=alice, comment="fine")
    page = detail(staff_client, execution)
    assert "Approvers: alice, staff · 1 vote, 2 approvals needed" in page
    assert "<li>alice: approved (fine)</li>" in page
    assert '<label for="id_field-share_message">Share message</label>' in page
    assert "Draft text" in page
    response = staff_client.post(
        f"/dashboard/executions/{execution.pk}/approve/",
        {"comment": "", "field-share_message": "Final text"},
    )
    assert response.status_code == 302
    execution = resumed(execution)
    assert execution.status == "completed"
    outcome = execution.context["steps"]["ask"]
    assert outcome["fields"] == {"share_message": "Final text"}
    assert [vote["via"] for vote in outcome["votes"]] == ["api", "dashboard"]


def test_a_staff_member_who_is_not_an_approver_gets_a_403_that_says_so(staff_client):
    UserFactory(username="alice", is_staff=True)
    execution = paused_on_approval(approvers={"users": ["alice"]})
    response = staff_client.post(f"/dashboard/executions/{execution.pk}/approve/", {})
    assert response.status_code == 403
    assert "staff is not an approver of this step." in response.content.decode()
    assert AutomationExecution.objects.get(pk=execution.pk).status == "waiting"
