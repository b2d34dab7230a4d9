from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from analytics.services import rollup_rebuild, rollup_refresh


class Command(BaseCommand):
    help = (
        "Bring the stats rollups up to date now (Beat does it every ANALYTICS_ROLLUP_INTERVAL_S). "
        "--rebuild recomputes every bucket from the executions: after a bulk load, a restore, or "
        "rows written outside the application. Safe to run while Beat runs too."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--rebuild", action="store_true", help="recompute every bucket")

    def handle(self, *args: Any, **options: Any) -> None:
        count = rollup_rebuild() if options["rebuild"] else rollup_refresh()
        self.stdout.write(f"Rewrote {count} hourly bucket{'' if count == 1 else 's'}.")
