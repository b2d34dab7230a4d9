from typing import Any

from django.core.management.base import BaseCommand

from workflows.services.housekeeping import execution_sweep


class Command(BaseCommand):
    help = (
        "Run the execution sweep now (Beat runs it every EXECUTION_SWEEP_INTERVAL_S): re-send "
        "executions whose message was lost, whose worker died (expired lease) or whose retry is "
        "due. Prints how many were re-sent; safe to run while Beat runs it too."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = execution_sweep()
        self.stdout.write(f"Re-sent {count} execution{'' if count == 1 else 's'}.")
