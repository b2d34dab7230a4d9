"""Reads on orchestrations and their runs."""

import time

from django.db.models import QuerySet

from orchestration.models import RUN_FINISHED_STATUSES, APIOrchestration, OrchestrationRun

WAIT_POLL_FIRST_S = 0.05
WAIT_POLL_MAX_S = 0.5


def orchestration_list() -> QuerySet[APIOrchestration]:
    return APIOrchestration.objects.all()


def orchestration_run_list() -> QuerySet[OrchestrationRun]:
    """Runs without their bulky JSON (input, result, calls, definition), for lists."""
    return OrchestrationRun.objects.select_related("orchestration").defer(
        "input", "result", "calls", "definition", "orchestration__api_calls"
    )


def orchestration_run_detail_list() -> QuerySet[OrchestrationRun]:
    return OrchestrationRun.objects.select_related("orchestration").defer("definition")


def orchestration_run_wait(*, run_id: int, timeout_s: float) -> OrchestrationRun:
    """The run once it has finished, or as it stands when ``timeout_s`` has passed."""
    deadline = time.monotonic() + timeout_s
    interval = WAIT_POLL_FIRST_S
    while True:
        run = orchestration_run_detail_list().get(pk=run_id)
        left = deadline - time.monotonic()
        if run.status in RUN_FINISHED_STATUSES or left <= 0:
            return run
        time.sleep(min(interval, left))
        # Quick runs are seen quickly; long waits poll the database less and less often.
        interval = min(interval * 1.5, WAIT_POLL_MAX_S)
