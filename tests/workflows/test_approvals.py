"""Editorial approvals: approvers and quorum, fields edited on the way, personal single-use
links from a Slack message, escalation, and the audit of every vote."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import ConnectionFactory, UserFactory, WorkflowFactory
from tests.workflows.test_pauses import run
from workflows.engine import execution_run
from workflows.models import AuditEntry, AutomationExecution
from workflows.services.tokens import api_token_create

BASE = "/api/workflow-orchestration"
LINK = re.compile(r"^(\w+): (http://\S+/approvals/(\S+)/)$", re.MULTILINE)

pytestmark = pytest.mark.django_db


def resume(execution: AutomationExecution) -> AutomationExecution:
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    return execution


def approval_workflow(**params):
    """An approval, then a step that shares the edited message (or just says it is done)."""
    values = {"text": "{{ steps.ok.fields.share_message }}"} if "fields" in params else {"done": 1}
    return WorkflowFactory(
        actions=[
            {"id": "ok", "type": "approval", "params": {"message": "Share it?", **params}},
            {"id": "share", "type": "transform", "params": {"values": values}},
        ]
    )


@pytest.fixture
def editors():
    group = Group.objects.create(name="editors")
    people = [UserFactory(username=name, is_staff=True) for name in ("alice", "bob", "carol")]
    group.user_set.add(*people)
    return people


def api_as(user) -> APIClient:
    _, raw = api_token_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


FIELDS = {"share_message": "New: {{ trigger.title }}"}


class TestVotes:
    def test_two_of_the_editors_approve_and_the_edited_field_reaches_the_next_step(self, editors):
        alice, bob, _ = editors
        workflow = approval_workflow(approvers={"groups": ["editors"]}, quorum=2, fields=FIELDS)
        execution = run(workflow, {"title": "Spring"})
        assert execution.status == "waiting"
        assert execution.steps.get(step_id="ok").output["fields"] == {
            "share_message": "New: Spring"
        }
        first = api_as(alice).post(
            f"{BASE}/executions/{execution.pk}/approve",
            {"fields": {"share_message": "Out now: Spring  "}},
            format="json",
        )
        assert first.status_code == 202
        execution.refresh_from_db()
        assert execution.status == "waiting", "one approval of a quorum of two decides nothing"
        vote = AuditEntry.objects.get(action="voted")
        assert vote.detail["by"] == "alice" and vote.detail["fields"] == ["share_message"]
        second = api_as(bob).post(f"{BASE}/executions/{execution.pk}/approve", {}, format="json")
        assert second.status_code == 202
        execution = resume(execution)
        assert execution.status == "completed"
        assert execution.context["steps"]["share"] == {"text": "Out now: Spring  "}
        outcome = execution.context["steps"]["ok"]
        assert outcome["approved"] is True and outcome["decided_by"] == "bob"
        assert [vote["by"] for vote in outcome["votes"]] == ["alice", "bob"]
        assert AuditEntry.objects.get(action="approved").detail["by"] == "bob"

    def test_one_rejection_rejects_whatever_the_quorum(self, editors):
        alice, bob, _ = editors
        execution = run(approval_workflow(approvers={"groups": ["editors"]}, quorum=2))
        api_as(alice).post(f"{BASE}/executions/{execution.pk}/approve", {}, format="json")
        refused = api_as(bob).post(
            f"{BASE}/executions/{execution.pk}/reject", {"comment": "too early"}, format="json"
        )
        assert refused.status_code == 202
        execution = resume(execution)
        assert execution.status == "failed"
        assert "Rejected by bob: too early" in execution.error_message

    def test_someone_not_named_or_voting_twice_is_refused_and_nothing_is_written(
        self, editors, api
    ):
        alice, *_ = editors
        execution = run(approval_workflow(approvers={"users": ["alice", "bob"]}, quorum=2))
        before = execution.steps.get(step_id="ok").output
        outsider = api.post(f"{BASE}/executions/{execution.pk}/approve", {}, format="json")
        assert outsider.status_code == 403
        assert outsider.json() == {"detail": "staff is not an approver of this step."}
        assert execution.steps.get(step_id="ok").output == before
        assert api_as(alice).post(f"{BASE}/executions/{execution.pk}/approve", {}, format="json")
        again = api_as(alice).post(f"{BASE}/executions/{execution.pk}/approve", {}, format="json")
        assert again.status_code == 409
        assert len(execution.steps.get(step_id="ok").output["votes"]) == 1

    def test_an_undeclared_field_or_an_edit_on_a_rejection_is_a_400(self, editors):
        alice, *_ = editors
        workflow = approval_workflow(approvers={"users": ["alice"]}, fields=FIELDS)
        execution = run(workflow, {"title": "T"})
        client = api_as(alice)
        unknown = client.post(
            f"{BASE}/executions/{execution.pk}/approve", {"fields": {"title": "x"}}, format="json"
        )
        assert unknown.status_code == 400
        assert unknown.json() == {
            "fields": ["Unknown field 'title'. Declared fields: share_message."]
        }
        on_reject = client.post(
            f"{BASE}/executions/{execution.pk}/reject",
            {"fields": {"share_message": "x"}},
            format="json",
        )
        assert on_reject.status_code == 400
        not_text = client.post(
            f"{BASE}/executions/{execution.pk}/approve",
            {"fields": {"share_message": {"deep": 1}}},
            format="json",
        )
        assert not_text.status_code == 400
        assert "votes" not in execution.steps.get(step_id="ok").output
        assert not AuditEntry.objects.filter(action__in=["voted", "approved"]).exists()

    def test_a_quorum_nobody_can_reach_fails_the_step_at_once(self, editors):
        execution = run(approval_workflow(approvers={"users": ["alice", "ghost"]}, quorum=2))
        assert execution.status == "failed"
        assert "quorum 2 needs as many approvers" in execution.error_message
        assert "1 active user(s): alice" in execution.error_message

    def test_without_approvers_any_staff_member_decides_alone(self, api):
        execution = run(approval_workflow(fields=FIELDS), {"title": "T"})
        assert api.post(f"{BASE}/executions/{execution.pk}/approve", {}, format="json")
        execution = resume(execution)
        assert execution.context["steps"]["share"] == {"text": "New: T"}


@pytest.fixture
def slack(httpserver, allow_loopback):
    httpserver.expect_request("/hook").respond_with_data("ok")
    return ConnectionFactory(platform="slack", webhook_url=httpserver.url_for("/hook"))


def posted(httpserver) -> list[str]:
    return [request.get_json()["text"] for request, _ in httpserver.log]


def links_in(text: str) -> dict[str, str]:
    return {name: f"/approvals/{token}/" for name, _url, token in LINK.findall(text)}


class TestLinks:
    def test_the_slack_message_carries_a_link_per_approver_that_decides_once(
        self, editors, slack, httpserver
    ):
        workflow = approval_workflow(
            approvers={"users": ["alice", "bob"]},
            fields=FIELDS,
            notify={"channel": "slack", "connection": slack.pk},
        )
        execution = run(workflow, {"title": "Spring"})
        [text] = posted(httpserver)
        assert text.startswith("Share it?")
        links = links_in(text)
        assert set(links) == {"alice", "bob"}
        browser = Client()
        page = browser.get(links["alice"])
        assert page.status_code == 200
        assert page["Referrer-Policy"] == "same-origin"
        assert b'deciding as <strong id="approver">alice</strong>' in page.content
        assert b"New: Spring" in page.content
        browser.get(links["alice"])  # a preview fetching it again decides nothing
        assert "votes" not in execution.steps.get(step_id="ok").output
        done = browser.post(
            links["alice"],
            {"approve": "1", "field-share_message": "Edited in Slack", "comment": "nice"},
        )
        assert done.status_code == 200 and b"You approved it" in done.content
        execution = resume(execution)
        assert execution.status == "completed"
        assert execution.context["steps"]["share"] == {"text": "Edited in Slack"}
        entry = AuditEntry.objects.get(action="approved")
        assert entry.actor == {"kind": "user", "name": "alice", "id": editors[0].pk}
        assert entry.detail["via"] == "link"
        again = browser.post(links["alice"], {"reject": "1"})
        assert again.status_code == 410 and b"no longer open" in again.content
        late = browser.post(links["bob"], {"reject": "1"})
        assert late.status_code == 410 and b"no longer open" in late.content

    def test_a_page_opened_before_another_approvers_edit_does_not_undo_it(
        self, editors, slack, httpserver
    ):
        alice, *_ = editors
        workflow = approval_workflow(
            approvers={"users": ["alice", "bob"]},
            quorum=2,
            fields=FIELDS,
            notify={"channel": "slack", "connection": slack.pk},
        )
        execution = run(workflow, {"title": "Spring"})
        links = links_in(posted(httpserver)[0])
        bobs_page = Client()
        form = bobs_page.get(links["bob"]).context["form"]
        shown = {name: form[name].value() or "" for name in form.fields}  # as in his browser
        assert shown["field-share_message"] == shown["seen-share_message"] == "New: Spring"
        api_as(alice).post(
            f"{BASE}/executions/{execution.pk}/approve",
            {"fields": {"share_message": "Alice's words"}},
            format="json",
        )
        assert bobs_page.post(links["bob"], {**shown, "approve": "1"}).status_code == 200
        execution = resume(execution)
        assert execution.context["steps"]["share"] == {"text": "Alice's words"}

    def test_a_spent_link_cannot_vote_again_under_a_quorum(self, editors, slack, httpserver):
        workflow = approval_workflow(
            approvers={"groups": ["editors"]},
            quorum=2,
            notify={"channel": "slack", "connection": slack.pk},
        )
        execution = run(workflow)
        links = links_in(posted(httpserver)[0])
        assert set(links) == {"alice", "bob", "carol"}
        browser = Client()
        assert browser.post(links["carol"], {"approve": "1"}).status_code == 200
        reused = browser.post(links["carol"], {"approve": "1"})
        assert reused.status_code == 410
        output = execution.steps.get(step_id="ok").output
        assert [vote["by"] for vote in output["votes"]] == ["carol"]
        assert "decision" not in output

    def test_a_changed_or_expired_link_is_refused(self, editors, slack, httpserver, settings):
        workflow = approval_workflow(
            approvers={"users": ["alice"]}, notify={"channel": "slack", "connection": slack.pk}
        )
        execution = run(workflow)
        link = links_in(posted(httpserver)[0])["alice"]
        tampered = link[:-6] + ("A" if link[-6] != "A" else "B") + link[-5:]
        answer = Client().post(tampered, {"approve": "1"})
        assert answer.status_code == 400 and b"not valid" in answer.content
        settings.APPROVAL_LINK_MAX_AGE_S = 60
        with time_machine.travel(timezone.now() + timedelta(seconds=61)):
            expired = Client().post(link, {"approve": "1"})
        assert expired.status_code == 400 and b"expired" in expired.content
        assert execution.steps.get(step_id="ok").output.get("votes") is None

    def test_an_email_to_the_approvers_carries_their_links(self, editors):
        alice, bob, _ = editors
        for user in (alice, bob):
            user.email = f"{user.username}@example.com"
            user.save()
        workflow = approval_workflow(
            approvers={"users": ["alice", "bob"]},
            notify={"channel": "email", "recipients": ["alice@example.com", "bob@example.com"]},
        )
        execution = run(workflow)
        [email] = mail.outbox
        links = links_in(email.body)
        assert set(links) == {"alice", "bob"}
        assert Client().post(links["bob"], {"reject": "1"}).status_code == 200
        assert resume(execution).status == "failed"

    def test_a_telegram_message_carries_the_links_too(self, editors, httpserver, allow_loopback):
        httpserver.expect_request("/bot42:tok/sendMessage").respond_with_json(
            {"ok": True, "result": {"message_id": 7, "chat": {"id": 99}}}
        )
        bot = ConnectionFactory(
            platform="telegram", webhook_url="", credentials={"bot_token": "42:tok"},
            config={"api_base_url": httpserver.url_for("/"), "chat_id": 99},
        )  # fmt: skip
        workflow = approval_workflow(
            approvers={"users": ["alice"]}, notify={"channel": "telegram", "connection": bot.pk}
        )
        execution = run(workflow)
        [(request, _)] = httpserver.log
        assert request.get_json()["chat_id"] == 99
        links = links_in(request.get_json()["text"])
        assert set(links) == {"alice"}
        assert Client().post(links["alice"], {"approve": "1"}).status_code == 200
        assert resume(execution).status == "completed"

    @pytest.mark.parametrize(
        "token",
        ["x", "e30", "e30:1xZdIR:bad", "." + "A" * 4000, "..:..:..", "eyJlIjoi", "%E2%80%AE"],
    )
    def test_a_made_up_token_is_a_400_page_never_a_500(self, token):
        for method in ("get", "post"):
            answer = getattr(Client(), method)(f"/approvals/{token}/")
            assert answer.status_code == 400
            assert b"not valid" in answer.content

    def test_a_link_to_a_pruned_run_or_a_removed_approver_says_it_is_gone(
        self, editors, slack, httpserver
    ):
        workflow = approval_workflow(
            approvers={"users": ["alice", "bob"]},
            notify={"channel": "slack", "connection": slack.pk},
        )
        execution = run(workflow)
        links = links_in(posted(httpserver)[0])
        editors[1].is_active = False
        editors[1].save()
        assert Client().get(links["bob"]).status_code == 410
        execution.delete()
        gone = Client().post(links["alice"], {"approve": "1"})
        assert gone.status_code == 410 and b"no longer exists" in gone.content


class TestEscalation:
    def test_after_the_wait_the_chief_is_added_and_told(self, editors, slack, httpserver):
        chief = UserFactory(username="chief", is_staff=True)
        workflow = approval_workflow(
            approvers={"users": ["alice"]},
            notify={"channel": "slack", "connection": slack.pk},
            escalate={"after_s": 3600, "users": ["chief"]},
            timeout_s=86400,
        )
        execution = run(workflow)
        step = execution.steps.get(step_id="ok")
        escalate_at = timezone.now() + timedelta(seconds=3600)
        assert abs(execution.next_attempt_at - escalate_at) < timedelta(seconds=5)
        assert (
            api_as(chief)
            .post(f"{BASE}/executions/{execution.pk}/approve", {}, format="json")
            .status_code
            == 403
        )
        with time_machine.travel(escalate_at + timedelta(seconds=1)):
            execution = resume(execution)
        assert execution.status == "waiting"
        step.refresh_from_db()
        assert step.output["escalated"] is True
        first, escalation = posted(httpserver)
        assert set(links_in(first)) == {"alice"} and set(links_in(escalation)) == {"chief"}
        deadline = timezone.now() + timedelta(seconds=86400)
        assert abs(execution.next_attempt_at - deadline) < timedelta(seconds=5)
        browser = Client()
        assert browser.post(links_in(escalation)["chief"], {"approve": "1"}).status_code == 200
        execution = resume(execution)
        assert execution.status == "completed"
        assert execution.context["steps"]["ok"]["decided_by"] == "chief"
