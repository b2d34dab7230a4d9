import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from workflows.management.commands._lookup import USAGE_ERROR, payload_parse, workflow_find
from workflows.models import FINISHED_STATUSES, AutomationExecution, ExecutionStatus, TriggerType
from workflows.services.audit import actor_of_command
from workflows.services.executions import execution_create
from workflows.services.overlap import OverlapSkipped

POLL_INTERVAL_S = 0.2
# Exit codes beyond Django's (0 done, 1 error, 2 usage): the run was still going at the deadline.
STILL_RUNNING = 3


class Command(BaseCommand):
    help = (
        "Start a workflow by name (or id) with a JSON payload, as a manual trigger, and print the "
        "execution id. With --wait, wait for the end and print the final status. Exit codes: 0 "
        "queued or completed, 1 failed or cancelled, 2 bad arguments, 3 still running at the end "
        "of --wait. A worker must be running for the execution to make progress."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workflow", metavar="NAME", help="The workflow's name, or its id.")
        parser.add_argument(
            "--payload", default="{}", help="The trigger payload, a JSON object (default: {})."
        )
        parser.add_argument(
            "--wait",
            type=float,
            metavar="SECONDS",
            help="Wait up to this long for the execution to finish.",
        )
        parser.add_argument(
            "--idempotency-key",
            default="",
            help="Run at most once per key: a key used before returns the first execution.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        wait = options["wait"]
        if wait is not None and wait <= 0:
            raise CommandError(
                "--wait must be a positive number of seconds.", returncode=USAGE_ERROR
            )
        payload = payload_parse(options["payload"])
        workflow = workflow_find(options["workflow"])
        try:
            execution, created = execution_create(
                workflow=workflow,
                trigger_type=TriggerType.MANUAL,
                payload=payload,
                idempotency_key=options["idempotency_key"] or None,
                triggered_by=actor_of_command(),
            )
        except OverlapSkipped as exc:
            raise CommandError(str(exc)) from None
        verb = "queued" if created else f"already started with this key ({execution.status})"
        self.stdout.write(f"Execution {execution.pk} of workflow {workflow.pk} {verb}.")
        if wait is not None:
            self._wait(execution, wait)

    def _wait(self, execution: AutomationExecution, wait_s: float) -> None:
        deadline = time.monotonic() + wait_s
        while execution.status not in FINISHED_STATUSES and time.monotonic() < deadline:
            time.sleep(POLL_INTERVAL_S)
            execution.refresh_from_db()
        if execution.status == ExecutionStatus.COMPLETED:
            self.stdout.write(
                f"Execution {execution.pk} completed in {execution.execution_time_ms} ms."
            )
            return
        if execution.status in FINISHED_STATUSES:
            raise CommandError(
                f"Execution {execution.pk} {execution.status}: {execution.error_message}"
            )
        raise CommandError(
            f"Execution {execution.pk} is still {execution.status} after {wait_s:g} s "
            "(is a worker running?).",
            returncode=STILL_RUNNING,
        )
