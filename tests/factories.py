import factory
from django.contrib.auth import get_user_model

from workflows.models import AutomationWorkflow


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class WorkflowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AutomationWorkflow

    name = factory.Sequence(lambda n: f"Workflow {n}")
    trigger = factory.LazyFunction(lambda: {"type": "manual"})
    trigger_type = factory.LazyAttribute(lambda workflow: workflow.trigger.get("type", "manual"))
    actions = factory.LazyFunction(
        lambda: [{"id": "set", "type": "transform", "params": {"values": {"x": 1}}}]
    )


class ConnectionFactory(factory.django.DjangoModelFactory):
    """A webhook connection by default; pass platform, credentials, webhook_url, config."""

    class Meta:
        model = "integrations.IntegrationConnection"

    name = factory.Sequence(lambda n: f"Connection {n}")
    platform = "webhook"
    webhook_url = "https://hooks.example.com/in/abc"
    credentials = factory.LazyFunction(dict)
    config = factory.LazyFunction(dict)


class ArticleFactory(factory.django.DjangoModelFactory):
    """An article row without versions; use versioning.services.article_create for history."""

    class Meta:
        model = "versioning.Article"

    title = factory.Sequence(lambda n: f"Article {n}")
    slug = factory.Sequence(lambda n: f"article-{n}")
    content = "Some words to read."


class OrchestrationFactory(factory.django.DjangoModelFactory):
    """A sequential orchestration of one GET; pass type, api_calls, dependencies, retry_strategy."""

    class Meta:
        model = "orchestration.APIOrchestration"

    name = factory.Sequence(lambda n: f"Orchestration {n}")
    type = "sequential"
    api_calls = factory.LazyFunction(
        lambda: [{"id": "ping", "method": "GET", "url": "https://api.example.com/ping"}]
    )
    dependencies = factory.LazyFunction(dict)
    retry_strategy = factory.LazyFunction(dict)


class AlertFactory(factory.django.DjangoModelFactory):
    """A global in-app alert on execution.failed; pass channel, connection, workflow, events."""

    class Meta:
        model = "alerts.AutomationAlert"

    name = factory.Sequence(lambda n: f"Alert {n}")
    channel = "in_app"
    events = factory.LazyFunction(lambda: ["execution.failed"])
    recipients = factory.LazyFunction(list)


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "alerts.Notification"

    user = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Notification {n}")


class ExecutionFactory(factory.django.DjangoModelFactory):
    """An execution row as a worker would leave it; pass status, timings, attempt…"""

    class Meta:
        model = "workflows.AutomationExecution"

    workflow = factory.SubFactory(WorkflowFactory)
    trigger_type = "manual"
    status = "completed"
    definition = factory.LazyAttribute(
        lambda execution: {"name": execution.workflow.name, "actions": execution.workflow.actions}
    )
    steps_total = factory.LazyAttribute(lambda execution: len(execution.workflow.actions))


class ExecutionStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "workflows.AutomationExecutionStep"

    execution = factory.SubFactory(ExecutionFactory)
    step_index = factory.Sequence(lambda n: n)
    step_id = factory.Sequence(lambda n: f"step{n}")
    step_type = "transform"
    status = "completed"
    attempts = 1


class AlertDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "alerts.AlertDelivery"

    alert = factory.SubFactory(AlertFactory)
    event = "execution.failed"
    severity = "critical"
    status = "sent"
    fold_key = factory.Sequence(lambda n: f"fold-{n}")
    attempts = 1


class OrchestrationRunFactory(factory.django.DjangoModelFactory):
    """A finished run with one succeeded call; pass status, calls, error."""

    class Meta:
        model = "orchestration.OrchestrationRun"

    orchestration = factory.SubFactory(OrchestrationFactory)
    status = "succeeded"
    calls = factory.LazyFunction(
        lambda: {
            "ping": {
                "status": "succeeded",
                "status_code": 200,
                "attempts": 1,
                "duration_ms": 12,
                "output": {"body": {"ok": True}, "extracted": {}},
                "error": "",
            }
        }
    )
