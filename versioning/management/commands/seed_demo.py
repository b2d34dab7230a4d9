import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from versioning.demo import demo_seed
from workflows.definition import definition_validate
from workflows.demo import DEMO_WORKFLOWS
from workflows.models import AutomationWorkflow
from workflows.services.workflows import workflow_create


class Command(BaseCommand):
    help = "Create the demo admin user and example workflows, once (later runs change nothing)."

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        with transaction.atomic():
            if not User.objects.filter(is_superuser=True).exists():
                password = secrets.token_urlsafe(12)
                User.objects.create_superuser("admin", "admin@example.com", password)
                self.stdout.write(
                    self.style.SUCCESS(f"Created the admin user: admin / {password} (shown once)")
                )
            if AutomationWorkflow.objects.exists():
                return
            admin = User.objects.filter(is_superuser=True).order_by("pk").first()
            for data in DEMO_WORKFLOWS:
                definition_validate(
                    trigger=data["trigger"], actions=data["actions"], schedule=data.get("schedule")
                )
                workflow_create(data=data, user=admin)
            self.stdout.write(f"Created {len(DEMO_WORKFLOWS)} demo workflows.")
            for created in demo_seed(admin):
                self.stdout.write(f"Created {created}.")
