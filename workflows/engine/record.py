"""The record of a running attempt: its steps and its execution's progress.

Owns every write a running attempt makes: starting a step, finishing it (or deferring a step
without side effects to the next write), each attempt's history entry and the active time. Every
write is fenced on ``attempt`` (``StaleAttempt`` once superseded) and, where a cancel matters, on
no cancel having been asked for (``CancelRequested``). Decides nothing: runner.py decides what
happens next; waits.py and finish.py end an attempt.
"""

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations.redaction import redact, secrets_registered
from workflows import events
from workflows.engine.errors import CancelRequested, StaleAttempt
from workflows.models import (
    AutomationExecution,
    AutomationExecutionStep,
    StepStatus,
)

Event = tuple[str, dict[str, Any]]


def ms_between(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds() * 1000))


@dataclass
class Attempt:
    """The step attempt under way: when it started, by both clocks."""

    started_at: datetime
    monotonic: float = field(default_factory=time.monotonic)

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.monotonic) * 1000)


@dataclass
class Progress:
    execution: AutomationExecution
    steps: dict[int, AutomationExecutionStep] = field(default_factory=dict)
    # Finished steps without side effects, saved with the next write rather than on their own:
    # if the worker dies first, running them again harms nobody, and a run of pure steps costs
    # one commit instead of one per step.
    pending: list[AutomationExecutionStep] = field(default_factory=list)
    attempts: dict[int, Attempt] = field(default_factory=dict)

    def __post_init__(self) -> None:
        execution = self.execution
        if execution.attempt > 1 or execution.steps_completed:
            self.steps = {step.step_index: step for step in execution.steps.all()}
        execution.context.setdefault("steps", {})

    # --- fenced writes ---------------------------------------------------------------------------

    def fenced_update(self, **fields: Any) -> None:
        """Update the execution only if this attempt still owns it and no cancel was asked for."""
        execution = self.execution
        updated = AutomationExecution.objects.filter(
            pk=execution.pk, attempt=execution.attempt, cancel_requested=False
        ).update(**fields)
        if updated:
            return
        row = (
            AutomationExecution.objects.filter(pk=execution.pk)
            .values("attempt", "cancel_requested")
            .first()
        )
        if row is None or row["attempt"] != execution.attempt:
            raise StaleAttempt()
        raise CancelRequested()

    def owned_update(self, **fields: Any) -> None:
        """Update the execution only if this attempt still owns it."""
        execution = self.execution
        if not AutomationExecution.objects.filter(
            pk=execution.pk, attempt=execution.attempt
        ).update(**fields):
            raise StaleAttempt()

    def fields(self) -> dict[str, Any]:
        """What progress every write carries: the context, the count of steps done, and a reset
        of the delivery count that stops a poison execution."""
        return {
            "context": self.execution.context,
            "steps_completed": self.execution.steps_completed,
            "deliveries": 0,
        }

    def flush(self) -> None:
        """Save the deferred steps; called inside the transaction of a fenced write."""
        new = [step for step in self.pending if step.pk is None]
        if new:
            AutomationExecutionStep.objects.bulk_create(new)
        for step in self.pending:
            if step not in new:
                step.save()
        self.pending = []

    # --- steps -----------------------------------------------------------------------------------

    def step(self, index: int, action: dict[str, Any]) -> AutomationExecutionStep:
        """The step's record: the one kept from an earlier attempt, or a new one."""
        step = self.steps.get(index)
        if step is None:
            step = AutomationExecutionStep(
                execution=self.execution,
                step_index=index,
                step_id=action["id"],
                step_name=action.get("name", ""),
                step_type=action.get("type", ""),
            )
            self.steps[index] = step
        return step

    def start(
        self, index: int, action: dict[str, Any], params: dict[str, Any], *, side_effects: bool
    ) -> AutomationExecutionStep:
        """Record the step as running — only while this attempt owns the execution, whose lease
        the same write renews. A step without side effects is recorded once, when it is done:
        if the worker dies during it, running it again harms nobody."""
        now = timezone.now()
        step = self.step(index, action)
        if step.status == StepStatus.RUNNING:
            # Recorded as running by an attempt whose worker died: it stays in the history.
            lost = {
                "attempt": step.attempts,
                "status": "lost",
                "started_at": None,
                "completed_at": None,
                "execution_time_ms": 0,
                "error_message": "The worker running it stopped before it finished.",
            }
            step.attempt_history = [*step.attempt_history, lost]
        step.status = StepStatus.RUNNING
        step.input = params
        step.attempts += 1
        step.started_at = step.started_at or now
        step.error_message = ""
        self.attempts[index] = Attempt(started_at=now)
        if side_effects:
            # Starting a step is not progress: only finished (here: deferred) steps reset the
            # delivery count that stops a poison execution.
            lease = {"lease_expires_at": now + timedelta(seconds=settings.EXECUTION_LEASE_S)}
            with transaction.atomic():
                self.fenced_update(**lease, **(self.fields() if self.pending else {}))
                self.flush()
                step.save()
        return step

    def attempt_close(
        self, step: AutomationExecutionStep, status: str, error: str, now: datetime
    ) -> None:
        """End the attempt under way: add it to the step's history and its active time."""
        attempt = self.attempts.pop(step.step_index, None)
        if attempt is None:
            return  # nothing ran (a condition was false, or the params did not render)
        took = attempt.elapsed_ms()
        entry = {
            "attempt": step.attempts,
            "status": status,
            "started_at": attempt.started_at.isoformat(),
            "completed_at": now.isoformat(),
            "execution_time_ms": took,
            "error_message": error,
        }
        if status != StepStatus.COMPLETED:
            entry["input"] = step.input  # what the failed attempt sent
        step.attempt_history = [*step.attempt_history, entry]
        step.execution_time_ms = (step.execution_time_ms or 0) + took

    def done(
        self,
        index: int,
        action: dict[str, Any],
        status: str,
        output: dict[str, Any],
        *,
        error: str = "",
        deferred: bool = False,
        event: Event | None = None,
    ) -> AutomationExecutionStep:
        """Record the step finished (completed, skipped or failed) with its output, and the
        execution's progress with it; ``event`` is recorded in the same transaction."""
        execution = self.execution
        now = timezone.now()
        secrets = secrets_registered()
        if secrets:
            # A secret a target echoed back, or an exception quoted, never reaches the record.
            output, error = redact(output, secrets), redact(error, secrets)
        step = self.step(index, action)
        self.attempt_close(step, status, error, now)
        step.status = status
        step.output = output
        step.error_message = error
        step.started_at = step.started_at or now
        step.completed_at = now
        step.execution_time_ms = step.execution_time_ms or 0
        step.wall_time_ms = ms_between(step.started_at, now)
        execution.context["steps"][action["id"]] = output
        if status != StepStatus.FAILED or action.get("continue_on_failure"):
            execution.steps_completed += 1
        if deferred:
            self.pending.append(step)
            return step
        fields = self.fields()
        cancel = False
        with transaction.atomic():
            try:
                self.fenced_update(**fields)
            except CancelRequested:
                # The step's result is still ours to record; the execution stops after it.
                self.owned_update(**fields)
                cancel = True
            self.flush()
            step.save()
            if event is not None:
                events.event_record(event[0], **event[1])
        if cancel:
            raise CancelRequested()
        return step

    def active_ms(self) -> int:
        """The execution's active time: every step's attempts, summed."""
        return sum(step.execution_time_ms or 0 for step in self.steps.values())
