"""The demo article and "publish → optimize → commit" workflow seeded on a first run."""

import pytest

from integrations.models import IntegrationConnection
from tests.factories import UserFactory
from versioning.demo import WORKFLOW_NAME, demo_seed
from versioning.models import Article
from workflows.engine import execution_run
from workflows.models import AutomationWorkflow
from workflows.services.executions import execution_create

pytestmark = pytest.mark.django_db


def test_without_a_github_connection_the_workflow_has_no_git_step_and_says_how_to_add_one():
    created = demo_seed(UserFactory())
    assert len(created) == 2
    workflow = AutomationWorkflow.objects.get(name=WORKFLOW_NAME)
    assert [action["type"] for action in workflow.actions] == ["publish", "optimize"]
    assert "add a github connection" in workflow.description


def test_with_a_github_connection_the_workflow_commits_through_it():
    connection = IntegrationConnection.objects.create(
        name="gh", platform="github", credentials={"token": "t"}, config={"repo": "o/r"}
    )
    demo_seed(None)
    workflow = AutomationWorkflow.objects.get(name=WORKFLOW_NAME)
    assert [action["type"] for action in workflow.actions] == ["publish", "optimize", "git_commit"]
    assert workflow.actions[2]["params"]["connection"] == connection.pk


def test_seeding_twice_creates_nothing_more():
    demo_seed(None)
    assert demo_seed(None) == []
    assert Article.objects.count() == AutomationWorkflow.objects.count() == 1


def test_the_demo_workflow_run_without_a_payload_publishes_and_optimizes_the_demo_article():
    demo_seed(None)
    workflow = AutomationWorkflow.objects.get(name=WORKFLOW_NAME)
    execution, _ = execution_create(workflow=workflow, trigger_type="manual", payload={})
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    assert execution.status == "completed", execution.error_message
    assert Article.objects.get().status == "published"
    assert execution.context["steps"]["optimize"]["word_count"] > 0
