from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from workflows.management.commands._lookup import USAGE_ERROR
from workflows.services.housekeeping import execution_prune, executions_prunable


class Command(BaseCommand):
    help = (
        "Delete finished executions (and their steps) older than --days, default "
        "EXECUTION_RETENTION_DAYS, in batches; queued and running ones are never deleted. Beat "
        "does this hourly (workflows.prune)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Keep this many days (default: EXECUTION_RETENTION_DAYS).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count what would be deleted."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else settings.EXECUTION_RETENTION_DAYS
        if days < 1:
            raise CommandError("--days must be at least 1.", returncode=USAGE_ERROR)
        now = timezone.now()
        if options["dry_run"]:
            count = executions_prunable(now - timedelta(days=days)).count()
            self.stdout.write(f"Would delete {count} executions older than {days} days.")
            return
        # The service keeps EXECUTION_RETENTION_DAYS before the ``now`` it is given: shifting
        # ``now`` moves its cutoff to ``days`` before the real now.
        shifted = now + timedelta(days=settings.EXECUTION_RETENTION_DAYS - days)
        count = execution_prune(now=shifted)
        self.stdout.write(f"Deleted {count} executions older than {days} days.")
