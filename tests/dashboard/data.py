"""A small, representative data set for the dashboard's pages (used by the page tests and the
browser tests)."""

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from tests.factories import (
    AlertDeliveryFactory,
    AlertFactory,
    ConnectionFactory,
    ExecutionFactory,
    ExecutionStepFactory,
    NotificationFactory,
    OrchestrationFactory,
    OrchestrationRunFactory,
    WorkflowFactory,
)
from versioning.models import Article
from versioning.services import article_create, article_update
from workflows.models import AutomationExecution, AutomationWorkflow
from workflows.services.workflows import workflow_create, workflow_update

SECRET_TOKEN = "xoxb-never-show-this-0123456789"
SECRET_WEBHOOK = "https://hooks.example.com/services/T000/B000/never-show-this-either"


APPROVAL_MESSAGE = "Publish the launch post to the blog?"
APPROVAL_ACTIONS = [
    {"id": "ask", "type": "approval", "params": {"message": APPROVAL_MESSAGE}},
    {"id": "after", "type": "transform", "params": {"values": {"done": True}}},
]


def greeting(text: str) -> list[dict[str, Any]]:
    return [{"id": "greet", "type": "transform", "params": {"values": {"greeting": text}}}]


def workflow_with_three_revisions(user: Any = None) -> AutomationWorkflow:
    """A workflow at revision 3: created, its greeting changed, then renamed."""
    workflow = workflow_create(
        data={"name": "Greeter", "trigger": {"type": "manual"}, "actions": greeting("Hello")},
        user=user,
        change_note="First draft",
    )
    workflow_update(
        workflow=workflow,
        data={"actions": greeting("Hello {{ trigger.name }}")},
        user=user,
        change_note="Greet by name",
    )
    workflow_update(workflow=workflow, data={"name": "Greeter v2"}, user=user, change_note="Rename")
    workflow.refresh_from_db()
    return workflow


def execution_waiting_for_approval(
    workflow: AutomationWorkflow | None = None,
) -> AutomationExecution:
    """An execution paused on the approval step ``ask``, as the engine leaves it (no worker)."""
    workflow = workflow or WorkflowFactory(name="Launch with sign-off", actions=APPROVAL_ACTIONS)
    execution = ExecutionFactory(
        workflow=workflow, status="waiting", steps_total=2, started_at=timezone.now()
    )
    ExecutionStepFactory(
        execution=execution,
        step_index=0,
        step_id="ask",
        step_type="approval",
        status="waiting",
        input={"message": APPROVAL_MESSAGE, "timeout_s": None, "timeout_outcome": "reject"},
        output={"message": APPROVAL_MESSAGE, "deadline": None, "waiting_for": "approval"},
    )
    return execution


@dataclass
class Seeded:
    workflow: AutomationWorkflow
    article: Article
    objects: dict[str, Any]


def article_with_three_versions(user: Any = None) -> Article:
    """An article at version 3: created, retitled, then its body rewritten."""
    article = article_create(
        data={"title": "Launch notes", "content": "First line.\nSecond line."}, user=user
    ).article
    article_update(article=article, data={"title": "Launch notes, revised"}, user=user)
    article_update(
        article=article, data={"content": "First line.\nA brand new second line."}, user=user
    )
    article.refresh_from_db()
    return article


def dashboard_data_seed(staff_user: Any) -> Seeded:
    now = timezone.now()
    workflow = WorkflowFactory(
        name="Publish digest",
        actions=[
            {"id": "prepare", "type": "transform", "params": {"values": {"n": 1}}},
            {"id": "notify", "type": "transform", "params": {"values": {"ok": True}}},
        ],
        run_count=2,
        success_count=1,
        failure_count=1,
        last_run_at=now,
        last_status="failed",
    )
    WorkflowFactory(name="Nightly check", is_active=False)
    completed = ExecutionFactory(
        workflow=workflow,
        status="completed",
        steps_completed=2,
        steps_total=2,
        started_at=now,
        completed_at=now,
        execution_time_ms=420,
    )
    ExecutionStepFactory(
        execution=completed, step_index=0, step_id="prepare", output={"n": 1}, input={"x": 1}
    )
    ExecutionStepFactory(execution=completed, step_index=1, step_id="notify", output={"ok": True})
    failed = ExecutionFactory(
        workflow=workflow,
        status="failed",
        steps_completed=1,
        steps_total=2,
        error_message="Step notify failed: HTTP 503 from hooks.example.com",
        started_at=now,
        completed_at=now,
        execution_time_ms=1300,
    )
    ExecutionStepFactory(execution=failed, step_index=0, step_id="prepare")
    ExecutionStepFactory(
        execution=failed,
        step_index=1,
        step_id="notify",
        status="failed",
        attempts=3,
        error_message="HTTP 503 from hooks.example.com (retryable)",
    )
    running = ExecutionFactory(workflow=workflow, status="running", started_at=now)
    connection = ConnectionFactory(
        name="Team Slack",
        platform="slack",
        webhook_url=SECRET_WEBHOOK,
        credentials={"token": SECRET_TOKEN},
    )
    alert = AlertFactory(
        name="Failures to staff", trigger_count=3, success_count=2, failure_count=1
    )
    AlertDeliveryFactory(alert=alert, status="sent", response_code=200)
    AlertDeliveryFactory(alert=alert, status="failed", error="HTTP 500 from the hook", attempts=5)
    NotificationFactory(user=staff_user, title="Execution failed: Publish digest")
    NotificationFactory(user=staff_user, title="Old news", is_read=True)
    orchestration = OrchestrationFactory(name="Fetch and post")
    OrchestrationRunFactory(orchestration=orchestration, input={"q": "news"}, duration_ms=40)
    article = article_with_three_versions(staff_user)
    return Seeded(
        workflow=workflow,
        article=article,
        objects={
            "completed": completed,
            "failed": failed,
            "running": running,
            "connection": connection,
            "alert": alert,
            "orchestration": orchestration,
        },
    )
