"""An approval through the real path: the API starts the run, a worker posts the question to a
Slack stub and parks the run, the approver's link edits the share message and approves, and the
worker finishes the run with the edited text."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from tests.conftest import wait_for
from tests.factories import ConnectionFactory, UserFactory
from tests.workflows.test_approvals import FIELDS, approval_workflow, links_in, posted
from workflows.models import AutomationExecution

pytestmark = pytest.mark.worker

BASE = "/api/workflow-orchestration"


def test_a_link_from_slack_edits_and_approves_and_a_worker_finishes_the_run(
    api, start_worker, httpserver
):
    httpserver.expect_request("/hook").respond_with_data("ok")
    slack = ConnectionFactory(platform="slack", webhook_url=httpserver.url_for("/hook"))
    editors = Group.objects.create(name="editors")
    editors.user_set.add(*(UserFactory(username=name) for name in ("alice", "bob")))
    workflow = approval_workflow(
        approvers={"groups": ["editors"]},
        quorum=2,
        fields=FIELDS,
        notify={"channel": "slack", "connection": slack.pk},
    )
    start_worker()
    started = api.post(
        f"{BASE}/workflows/{workflow.pk}/execute", {"title": "Spring"}, format="json"
    )
    execution_id = started.json()["execution_id"]
    executions = AutomationExecution.objects.filter(pk=execution_id)
    wait_for(lambda: executions.filter(status="waiting").exists())
    links = links_in(posted(httpserver)[0])
    browser = Client()
    edited = {"approve": "1", "field-share_message": "Spring is here"}
    assert browser.post(links["alice"], edited).status_code == 200
    assert executions.get().status == "waiting", "one of two approvals decides nothing"
    assert browser.post(links["bob"], {"approve": "1"}).status_code == 200
    done = wait_for(lambda: executions.filter(status="completed").first(), timeout_s=60)
    assert done.context["steps"]["share"] == {"text": "Spring is here"}
    assert [vote["by"] for vote in done.context["steps"]["ok"]["votes"]] == ["alice", "bob"]
