from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from workflows.as_code.document import FORMATS, document_dump
from workflows.as_code.exporting import workflows_export
from workflows.management.commands._lookup import USAGE_ERROR
from workflows.models import AutomationWorkflow


class Command(BaseCommand):
    help = (
        "Write workflow definitions as a JSON or YAML document that import_workflows reads back. "
        "Connections are referenced by name; no secret is written (no credentials, webhook "
        "tokens or signing secrets)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--name",
            action="append",
            default=[],
            metavar="NAME",
            help="Export only the workflow with this name (repeat for several; default: all).",
        )
        parser.add_argument("--format", choices=FORMATS, default="json")
        parser.add_argument(
            "--output", "-o", metavar="FILE", help="Write to FILE instead of standard output."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        workflows = AutomationWorkflow.objects.order_by("name", "pk")
        names = options["name"]
        if names:
            workflows = workflows.filter(name__in=names)
            missing = sorted(set(names) - {workflow.name for workflow in workflows})
            if missing:
                raise CommandError(
                    f"No workflow named {', '.join(map(repr, missing))}.", returncode=USAGE_ERROR
                )
        text = document_dump(workflows_export(workflows=workflows), options["format"])
        if options["output"]:
            Path(options["output"]).write_text(text, encoding="utf-8")
            count = len(workflows)
            self.stderr.write(f"Exported {count} workflow(s) to {options['output']}.")
        else:
            self.stdout.write(text, ending="")
