import argparse
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet

from workflows.management.commands._lookup import (
    EXECUTION_HEADER,
    USAGE_ERROR,
    execution_line,
    workflow_find,
)
from workflows.models import FINISHED_STATUSES, AutomationExecution, ExecutionStatus

State = tuple[str, int]


class Command(BaseCommand):
    help = (
        "List the latest executions, oldest first. With --follow, keep printing executions that "
        "start or change (status or steps done) until Ctrl-C."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--status", choices=ExecutionStatus.values, help="Only this status.")
        parser.add_argument("--workflow", metavar="NAME", help="Only this workflow (name or id).")
        parser.add_argument(
            "--limit", type=int, default=20, help="How many to list first (default 20)."
        )
        parser.add_argument("--follow", "-f", action="store_true", help="Keep watching.")
        parser.add_argument(
            "--interval",
            type=float,
            default=2.0,
            metavar="SECONDS",
            help="How often --follow looks (default 2).",
        )
        # For tests: stop following after this many looks.
        parser.add_argument("--max-polls", type=int, default=None, help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["limit"] < 1:
            raise CommandError("--limit must be at least 1.", returncode=USAGE_ERROR)
        if options["interval"] <= 0:
            raise CommandError("--interval must be positive.", returncode=USAGE_ERROR)
        executions = AutomationExecution.objects.select_related("workflow").defer(
            "context", "definition", "trigger_payload", "workflow__actions", "workflow__trigger"
        )
        if options["workflow"]:
            executions = executions.filter(workflow=workflow_find(options["workflow"]))
        status = options["status"]
        listed = executions.filter(status=status) if status else executions
        latest = list(listed.order_by("-pk")[: options["limit"]])[::-1]
        self.stdout.write(EXECUTION_HEADER)
        for execution in latest:
            self.stdout.write(execution_line(execution))
        if not options["follow"]:
            return
        try:
            self._follow(executions, latest, options)
        except KeyboardInterrupt:
            return

    def _follow(
        self,
        executions: QuerySet[AutomationExecution],
        listed: list[AutomationExecution],
        options: dict[str, Any],
    ) -> None:
        """Print what started or changed since the last look, until Ctrl-C (or --max-polls).

        Unfinished executions are watched until they finish; new ones are found by id. With
        --status, only changes into that status are printed.
        """
        last_id = executions.order_by("-pk").values_list("pk", flat=True).first() or 0
        watching: dict[int, State] = {
            execution.pk: _state(execution)
            for execution in listed
            if execution.status not in FINISHED_STATUSES
        }
        polls = 0
        while options["max_polls"] is None or polls < options["max_polls"]:
            time.sleep(options["interval"])
            polls += 1
            changed = executions.filter(pk__in=list(watching)).order_by("pk")
            fresh = executions.filter(pk__gt=last_id).order_by("pk")
            for execution in [*changed, *fresh]:
                last_id = max(last_id, execution.pk)
                state = _state(execution)
                if watching.get(execution.pk) == state:
                    continue
                if options["status"] in (None, execution.status):
                    self.stdout.write(execution_line(execution))
                    self.stdout.flush()
                watching[execution.pk] = state
                if execution.status in FINISHED_STATUSES:
                    del watching[execution.pk]


def _state(execution: AutomationExecution) -> State:
    return execution.status, execution.steps_completed
