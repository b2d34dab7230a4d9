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
