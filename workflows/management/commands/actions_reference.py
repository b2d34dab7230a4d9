"""``manage.py actions_reference``: write docs/actions.md from the action types' schemas;
``--check`` only says whether the file is up to date (exit 1 when not)."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from workflows.reference import actions_reference_render


class Command(BaseCommand):
    help = "Write the action reference (docs/actions.md) from the action types' schemas."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            default=str(Path(settings.BASE_DIR) / "docs" / "actions.md"),
            help="Where to write it (default: docs/actions.md).",
        )
        parser.add_argument(
            "--check", action="store_true", help="Change nothing; exit 1 when the file differs."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["output"])
        text = actions_reference_render()
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if options["check"]:
            if current != text:
                raise CommandError(
                    f"{path} is out of date: run manage.py actions_reference.", returncode=1
                )
            self.stdout.write(f"{path} is up to date.")
            return
        path.write_text(text, encoding="utf-8")
        self.stdout.write(f"Wrote {path}.")
