"""``manage.py test_workflows [NAME…]``: run the saved test suites of the named workflows (by
name or id; none: every workflow that has one), in this process, with nothing leaving it and
nothing kept. Prints each case; exits 1 when a case failed, 2 for an unknown workflow — for CI."""

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from workflows.management.commands._lookup import workflow_find
from workflows.models import AutomationWorkflow, WorkflowTest
from workflows.suites import workflow_tests_run


class Command(BaseCommand):
    help = (
        "Run workflows' saved test cases with mocked HTTP and no lasting writes; exit 1 when "
        "a case fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="*", help="Workflows, by name or id (default: all).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["names"]:
            workflows = [workflow_find(name) for name in options["names"]]
        else:
            tested = WorkflowTest.objects.values("workflow_id")
            workflows = list(AutomationWorkflow.objects.filter(pk__in=tested).order_by("name"))
        passed = failed = 0
        for workflow in workflows:
            outcome = workflow_tests_run(workflow=workflow)
            for case in outcome["cases"]:
                mark = "ok  " if case["ok"] else "FAIL"
                self.stdout.write(f"{mark} {workflow.name} › {case['name']} ({case['status']})")
                for failure in case["failures"]:
                    self.stdout.write(f"       {failure}")
            passed += outcome["passed"]
            failed += outcome["failed"]
        self.stdout.write(f"{passed} passed, {failed} failed")
        if failed:
            sys.exit(1)
