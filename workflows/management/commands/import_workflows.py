import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from workflows.as_code.document import DocumentInvalid, document_parse
from workflows.as_code.importing import workflows_import
from workflows.management.commands._lookup import USAGE_ERROR


class Command(BaseCommand):
    help = (
        "Create or update workflows from a JSON or YAML document (as export_workflows writes "
        "it), matched by name; all or nothing. Exit codes: 0 imported (or, with --dry-run, "
        "would import), 2 the document is invalid: each problem is printed with its path, and "
        "nothing was written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE", help="The document; - reads standard input.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Validate and print what would change; write nothing.",
        )
        parser.add_argument("--note", default="", help="Change note for the revisions recorded.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            text = (
                sys.stdin.read()
                if options["file"] == "-"
                else Path(options["file"]).read_text(encoding="utf-8")
            )
        except OSError as exc:
            raise CommandError(
                f"Cannot read {options['file']}: {exc}", returncode=USAGE_ERROR
            ) from None
        try:
            result = workflows_import(
                document=document_parse(text),
                dry_run=options["dry_run"],
                change_note=options["note"],
            )
        except DocumentInvalid as exc:
            for line in exc.lines():
                self.stderr.write(line)
            raise CommandError(
                f"{options['file']}: {len(exc.lines())} problem(s); nothing was imported.",
                returncode=USAGE_ERROR,
            ) from None
        prefix = "would be " if result.dry_run else ""
        for planned in result.workflows:
            fields = f" ({', '.join(planned.changed_fields)})" if planned.changed_fields else ""
            self.stdout.write(f"{planned.name}: {prefix}{planned.action}{fields}")
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        summary = result.as_dict()
        counts = (
            f"{summary['created']} created, {summary['updated']} updated, "
            f"{summary['unchanged']} unchanged"
        )
        if result.dry_run:
            self.stdout.write(f"Dry run, nothing written; importing would leave {counts}.")
        else:
            self.stdout.write(f"Imported: {counts}.")
