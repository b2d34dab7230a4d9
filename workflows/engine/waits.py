"""An attempt that ends in a wait: a retry after a retryable failure, or a pause (an approval,
a ``wait`` step). Either releases the worker: the due time lives in the row, and a short wait
rides on a broker countdown while a longer one is left to the sweep (broker ETAs beyond the
visibility timeout duplicate). Writes through record.py's fenced writes; decides nothing.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from workflows.actions.base import ActionError, StepWaiting
from workflows.engine.record import Progress
from workflows.models import AutomationExecutionStep, ExecutionStatus, StepStatus
from workflows.services.dispatch import execution_dispatch


def retry_schedule(
    progress: Progress, step: AutomationExecutionStep, error: ActionError, delay_s: float
) -> None:
    """The attempt failed and may succeed later: queue the execution again after ``delay_s``."""
    now = timezone.now()
    due = now + timedelta(seconds=delay_s)
    progress.attempt_close(step, StepStatus.FAILED, error.message, now)
    step.status = StepStatus.RETRYING
    step.error_message = error.message
    step.output = {"error": error.message, "retry_at": due.isoformat()}
    _release(progress, step, ExecutionStatus.QUEUED, due, now)


def pause(progress: Progress, step: AutomationExecutionStep, wait: StepWaiting) -> None:
    """Park the execution until ``wait.until`` or a decision; no worker holds it."""
    now = timezone.now()
    progress.attempt_close(step, StepStatus.WAITING, "", now)
    step.status = StepStatus.WAITING
    step.output = {**wait.state, "waiting_for": wait.reason}
    _release(progress, step, ExecutionStatus.WAITING, wait.until, now)


def _release(
    progress: Progress,
    step: AutomationExecutionStep,
    status: str,
    due: datetime | None,
    now: datetime,
) -> None:
    short = due is not None and (due - now).total_seconds() <= settings.RETRY_COUNTDOWN_MAX_S
    with transaction.atomic():
        progress.fenced_update(
            status=status,
            next_attempt_at=due,
            dispatched_at=due if short else None,
            lease_expires_at=None,
            locked_by="",
            **progress.fields(),
        )
        progress.flush()
        step.save()
        if short and due is not None:
            execution_dispatch(
                progress.execution.pk, marked=due, countdown=(due - now).total_seconds()
            )
