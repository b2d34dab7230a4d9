"""An approval link from a Slack message, opened in Chromium by an approver who is not signed in:
the share message is edited, the run is approved, and the edited text reaches the next step."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.a11y import accessibility_problems
from tests.browser.test_building import PHONE, sideways
from tests.factories import ConnectionFactory, UserFactory, WorkflowFactory
from workflows.engine import execution_run
from workflows.models import AutomationExecution
from workflows.services.executions import execution_create


@pytest.fixture
def slack(httpserver, settings, transactional_db):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    httpserver.expect_request("/hook").respond_with_data("ok")
    return ConnectionFactory(platform="slack", webhook_url=httpserver.url_for("/hook"))


def test_an_approver_edits_the_share_message_and_approves_from_the_link(
    page, slack, httpserver, artifacts, live_server, settings
):
    settings.SITE_URL = live_server.url
    UserFactory(username="alice", is_staff=False)
    workflow = WorkflowFactory(
        name="Share the post",
        actions=[
            {
                "id": "ok",
                "type": "approval",
                "params": {
                    "message": "Share '{{ trigger.title }}'?",
                    "approvers": {"users": ["alice"]},
                    "fields": {"share_message": "New on the blog: {{ trigger.title }}"},
                    "notify": {"channel": "slack", "connection": slack.pk},
                },
            },
            {
                "id": "share",
                "type": "transform",
                "params": {"values": {"text": "{{ steps.ok.fields.share_message }}"}},
            },
        ],
    )
    execution, _ = execution_create(
        workflow=workflow, trigger_type="manual", payload={"title": "Spring"}
    )
    execution_run(execution_id=execution.pk, worker="test")
    [(request, _)] = httpserver.log
    link = re.search(r"alice: (\S+)", request.get_json()["text"]).group(1)
    assert link.startswith(f"{live_server.url}/approvals/")

    page.goto(link)
    expect(page.locator("#approval-message")).to_have_text("Share 'Spring'?")
    expect(page.locator("#approver")).to_have_text("alice")
    message = page.get_by_label("Share message")
    expect(message).to_have_value("New on the blog: Spring")
    assert accessibility_problems(page) == []
    page.set_viewport_size(PHONE)
    assert sideways(page) == 0
    page.screenshot(path=str(artifacts / "approval-link-phone.png"), full_page=True)
    message.fill("Spring is here: read it on the blog")
    page.get_by_label("Comment").fill("Shorter title, please, next time")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#done")).to_contain_text("You approved it")
    expect(page.locator("#votes")).to_contain_text("alice: approved")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)

    execution_run(execution_id=execution.pk, worker="test")
    execution = AutomationExecution.objects.get(pk=execution.pk)
    assert execution.status == "completed"
    assert execution.context["steps"]["share"] == {"text": "Spring is here: read it on the blog"}

    page.goto(link)
    expect(page.locator("#problem")).to_contain_text("no longer open")
