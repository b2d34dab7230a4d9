"""The engine: runs one execution's steps in order, saving progress after every step.

A worker first *claims* the execution (one conditional UPDATE), which bumps its ``attempt`` — the
fencing number. Every later write is conditional on that attempt, so a worker that lost its lease
(paused, partitioned, presumed dead) can never overwrite the work of the attempt that replaced it.
A re-delivered execution resumes at the first step not yet done; a done step never runs again.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from rest_framework import serializers

from integrations.redaction import redact, secrets_registered
from workflows import events
from workflows.actions.base import ActionError, StepRun, StepWaiting
from workflows.actions.registry import UnknownActionType, action_get
from workflows.lease import LeaseKeeper
from workflows.logcontext import log_context, log_context_set
from workflows.models import (
    STEP_DONE_STATUSES,
    AutomationExecution,
    AutomationExecutionStep,
    AutomationWorkflow,
    ExecutionStatus,
    StepStatus,
)
from workflows.retry import RetryPolicy
from workflows.services.dispatch import execution_dispatch
from workflows.templating import TemplateError, condition_evaluate, params_render

logger = logging.getLogger(__name__)


class StaleAttempt(Exception):
    """This worker's attempt was superseded; its results are refused."""


class CancelRequested(Exception):
    """Somebody asked for the execution to stop before its next step."""


def _ms_since(start: float) -> int:
    return int((time.monotonic() - start) * 1000)


def _due(now: datetime) -> Q:
    return Q(status=ExecutionStatus.QUEUED) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    ) | Q(status=ExecutionStatus.WAITING, next_attempt_at__lte=now)


def execution_claim(*, execution_id: int, worker: str) -> AutomationExecution | None:
    """Take the execution for this worker, or return None when it is not ours to run.

    Claimable: queued and due, or running under an expired lease (its worker is presumed dead).
    A workflow with ``max_concurrency`` runs at most that many at once, oldest first.
    """
    now = timezone.now()
    claimed = _claim(execution_id, worker, now, limited=False)
    if claimed is not None:
        return claimed
    workflow_id = (
        AutomationExecution.objects.filter(pk=execution_id, concurrency_limited=True)
        .values_list("workflow_id", flat=True)
        .first()
    )
    if workflow_id is None:
        return None  # finished, running elsewhere, or not due yet
    with transaction.atomic():
        limit = (
            AutomationWorkflow.objects.select_for_update()
            .filter(pk=workflow_id)
            .values_list("max_concurrency", flat=True)
            .first()
        )
        if limit is None:
            return _claim(execution_id, worker, now, limited=True)
        executions = AutomationExecution.objects.filter(workflow_id=workflow_id)
        if executions.filter(status=ExecutionStatus.RUNNING).count() >= limit:
            return None  # parked: the next finish of this workflow sends the oldest waiting one
        oldest = executions.filter(_due(now)).order_by("pk").values_list("pk", flat=True).first()
        if oldest is not None and oldest != execution_id:
            execution_dispatch(oldest)
            return None
        return _claim(execution_id, worker, now, limited=True)


_CLAIM_SQL = """
UPDATE {table} SET
    status = 'running', attempt = attempt + 1, deliveries = deliveries + 1, locked_by = %s,
    lease_expires_at = %s, started_at = COALESCE(started_at, %s), next_attempt_at = NULL,
    dispatched_at = NULL
WHERE id = %s AND concurrency_limited = %s AND (
    (status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= %s))
    OR (status = 'waiting' AND next_attempt_at <= %s)
    OR (status = 'running' AND lease_expires_at < %s)
)
RETURNING *
"""


def _claim(
    execution_id: int, worker: str, now: datetime, *, limited: bool
) -> AutomationExecution | None:
    """One conditional UPDATE … RETURNING: the claim and the row in a single round trip."""
    sql = _CLAIM_SQL.format(table=AutomationExecution._meta.db_table)
    lease = now + timedelta(seconds=settings.EXECUTION_LEASE_S)
    params = [worker, lease, now, execution_id, limited, now, now, now]
    rows = list(AutomationExecution.objects.raw(sql, params))
    return rows[0] if rows else None


def execution_run(*, execution_id: int, worker: str) -> None:
    """Claim the execution and run it to its end, a retry wait, or a refusal."""
    with log_context(execution_id=execution_id):
        execution = execution_claim(execution_id=execution_id, worker=worker)
        if execution is None:
            logger.info("execution %s is not claimable; nothing to do", execution_id)
            return
        log_context_set(workflow_id=execution.workflow_id, attempt=execution.attempt)
        try:
            with LeaseKeeper(execution.pk, execution.attempt):
                _Runner(execution).run()
        except StaleAttempt:
            logger.warning(
                "execution %s attempt %s was superseded; its result is refused",
                execution_id,
                execution.attempt,
            )


@dataclass
class _Runner:
    execution: AutomationExecution
    steps: dict[int, AutomationExecutionStep] = field(default_factory=dict)
    # Finished steps without side effects, saved with the next write rather than on their own:
    # if the worker dies first, running them again harms nobody, and a run of pure steps costs
    # one commit instead of one per step.
    pending: list[AutomationExecutionStep] = field(default_factory=list)

    # --- the loop -------------------------------------------------------------------------------

    def run(self) -> None:
        execution = self.execution
        if execution.deliveries > settings.EXECUTION_MAX_DELIVERIES:
            self._finish(
                ExecutionStatus.FAILED,
                f"Gave up after {execution.deliveries - 1} deliveries without progress: the "
                "worker running this execution kept dying (out of memory, killed, or crashed).",
            )
            return
        if execution.cancel_requested:
            self._finish(ExecutionStatus.CANCELLED, "Cancelled.")
            return
        if execution.attempt > 1 or execution.steps_completed:
            self.steps = {step.step_index: step for step in execution.steps.all()}
        context = execution.context
        context.setdefault("steps", {})
        try:
            for index, action in enumerate(execution.definition.get("actions", [])):
                step = self.steps.get(index)
                if step is not None and step.status in STEP_DONE_STATUSES:
                    continue
                with log_context(step_id=action.get("id")):
                    if not self._run_step(index, action, step):
                        return
        except CancelRequested:
            self._finish(ExecutionStatus.CANCELLED, "Cancelled.")
            return
        self._finish(ExecutionStatus.COMPLETED, "")

    def _template_context(self) -> dict[str, Any]:
        execution = self.execution
        definition = execution.definition
        return {
            "trigger": execution.trigger_payload,
            "article": execution.context.get("article"),
            "workflow": {"id": execution.workflow_id, "name": definition.get("name", "")},
            "execution": {"id": execution.pk, "attempt": execution.attempt},
            "steps": execution.context["steps"],
            "now": timezone.now().isoformat(),
        }

    def _run_step(
        self, index: int, action: dict[str, Any], step: AutomationExecutionStep | None
    ) -> bool:
        """Run one step. Returns False when the execution stops here (failed or waiting)."""
        template_context = self._template_context()
        condition = action.get("condition")
        try:
            if condition and not condition_evaluate(condition, template_context):
                self._record_done(index, action, step, StepStatus.SKIPPED, {}, 0)
                return True
            executor = action_get(action["type"])
            params = params_render(action.get("params", {}), template_context)
            params = executor.validate(params, rendered=True)
        except (TemplateError, UnknownActionType) as exc:
            return self._step_failed(index, action, step, ActionError(str(exc)), {}, 0)
        except serializers.ValidationError as exc:
            error = ActionError(f"Invalid params after rendering: {exc.detail}")
            return self._step_failed(index, action, step, error, {}, 0)
        timeout_s = float(action.get("timeout_s") or settings.STEP_DEFAULT_TIMEOUT_S)
        state = step.output if step is not None and step.status == StepStatus.WAITING else {}
        step = self._record_start(index, action, step, params, side_effects=executor.side_effects)
        log_context_set(step_attempt=step.attempts)
        started = time.monotonic()
        run = StepRun(
            execution_id=self.execution.pk,
            workflow_id=self.execution.workflow_id,
            step_id=action["id"],
            attempt=step.attempts,
            timeout_s=timeout_s,
            context=template_context,
            depth=int(self.execution.context.get("depth", 0)),
            state=state,
        )
        try:
            output = executor.run(params, run)
        except StepWaiting as wait:
            self._pause(step, wait, _ms_since(started))
            return False
        except ActionError as exc:
            return self._step_failed(index, action, step, exc, params, _ms_since(started))
        except Exception as exc:
            logger.exception("action %s of execution %s crashed", action["id"], self.execution.pk)
            error = ActionError(f"Internal error in {action['type']}: {type(exc).__name__}: {exc}")
            return self._step_failed(index, action, step, error, params, _ms_since(started))
        self._record_done(
            index,
            action,
            step,
            StepStatus.COMPLETED,
            output,
            _ms_since(started),
            deferred=not executor.side_effects,
        )
        return True

    def _step_failed(
        self,
        index: int,
        action: dict[str, Any],
        step: AutomationExecutionStep | None,
        error: ActionError,
        params: dict[str, Any],
        duration_ms: int,
    ) -> bool:
        error.message = redact(error.message, secrets_registered())
        attempts = step.attempts if step is not None else 0
        policy = RetryPolicy.from_action(action)
        if error.retryable and 0 < attempts < policy.max_attempts:
            self._schedule_retry(step, error, policy.delay_after(attempts), duration_ms)
            return False
        logger.warning(
            "step %s (%s) failed: %s", action["id"], action.get("type", ""), error.message
        )
        output = {"error": error.message}
        if error.output is not None:
            output["response"] = error.output
        self._record_done(
            index, action, step, StepStatus.FAILED, output, duration_ms, error=error.message
        )
        execution = self.execution
        transaction.on_commit(
            lambda: events.emit(
                events.STEP_FAILED,
                execution_id=execution.pk,
                workflow_id=execution.workflow_id,
                step_id=action["id"],
                step_type=action.get("type", ""),
                error=error.message,
            )
        )
        if action.get("continue_on_failure"):
            return True
        label = action.get("name") or action["id"]
        self._finish(ExecutionStatus.FAILED, f"Step '{label}' failed: {error.message}")
        return False

    # --- writes, each fenced on this attempt -----------------------------------------------------

    def _fenced_update(self, **fields: Any) -> None:
        """Update the execution only if this attempt still owns it and no cancel was asked for."""
        execution = self.execution
        updated = AutomationExecution.objects.filter(
            pk=execution.pk, attempt=execution.attempt, cancel_requested=False
        ).update(**fields)
        if updated:
            return
        current = AutomationExecution.objects.filter(pk=execution.pk).values(
            "attempt", "cancel_requested"
        )
        row = current.first()
        if row is None or row["attempt"] != execution.attempt:
            raise StaleAttempt()
        raise CancelRequested()

    def _cancel_requested(self) -> bool:
        return (
            bool(self.pending)
            and AutomationExecution.objects.filter(
                pk=self.execution.pk, cancel_requested=True
            ).exists()
        )

    def _progress(self) -> dict[str, Any]:
        execution = self.execution
        return {
            "context": execution.context,
            "steps_completed": execution.steps_completed,
            "deliveries": 0,
        }

    def _flush(self) -> None:
        """Save the deferred steps; called inside the transaction of a fenced write."""
        new = [step for step in self.pending if step.pk is None]
        if new:
            AutomationExecutionStep.objects.bulk_create(new)
        for step in self.pending:
            if step not in new:
                step.save()
        self.pending = []

    def _owned_update(self, **fields: Any) -> None:
        """Update the execution only if this attempt still owns it."""
        execution = self.execution
        if not AutomationExecution.objects.filter(
            pk=execution.pk, attempt=execution.attempt
        ).update(**fields):
            raise StaleAttempt()

    def _record_start(
        self,
        index: int,
        action: dict[str, Any],
        step: AutomationExecutionStep | None,
        params: dict[str, Any],
        *,
        side_effects: bool,
    ) -> AutomationExecutionStep:
        """Record the step as running — only while this attempt owns the execution, whose lease
        the same write renews. A step without side effects is recorded once, when it is done:
        if the worker dies during it, running it again harms nobody."""
        now = timezone.now()
        if step is None:
            step = AutomationExecutionStep(
                execution=self.execution,
                step_index=index,
                step_id=action["id"],
                step_name=action.get("name", ""),
                step_type=action["type"],
            )
        step.status = StepStatus.RUNNING
        step.input = params
        step.attempts += 1
        step.started_at = now
        step.error_message = ""
        if side_effects:
            # Starting a step is not progress: only finished (here: deferred) steps reset the
            # delivery count that stops a poison execution.
            fields = {"lease_expires_at": now + timedelta(seconds=settings.EXECUTION_LEASE_S)}
            with transaction.atomic():
                self._fenced_update(**fields, **(self._progress() if self.pending else {}))
                self._flush()
                step.save()
        self.steps[index] = step
        return step

    def _record_done(
        self,
        index: int,
        action: dict[str, Any],
        step: AutomationExecutionStep | None,
        status: str,
        output: dict[str, Any],
        duration_ms: int,
        *,
        error: str = "",
        deferred: bool = False,
    ) -> None:
        execution = self.execution
        now = timezone.now()
        secrets = secrets_registered()
        if secrets:
            # A secret a target echoed back, or an exception quoted, never reaches the record.
            output, error = redact(output, secrets), redact(error, secrets)
        if step is None:
            step = AutomationExecutionStep(
                execution=execution,
                step_index=index,
                step_id=action["id"],
                step_name=action.get("name", ""),
                step_type=action.get("type", ""),
                started_at=now,
            )
        step.status = status
        step.output = output
        step.error_message = error
        step.completed_at = now
        step.execution_time_ms = duration_ms
        counts = status != StepStatus.FAILED or action.get("continue_on_failure")
        execution.context["steps"][action["id"]] = output
        if counts:
            execution.steps_completed += 1
        self.steps[index] = step
        if deferred:
            self.pending.append(step)
            return
        progress = self._progress()
        cancel = False
        with transaction.atomic():
            try:
                self._fenced_update(**progress)
            except CancelRequested:
                # The step's result is still ours to record; the execution stops after it.
                self._owned_update(**progress)
                cancel = True
            self._flush()
            step.save()
        if cancel:
            raise CancelRequested()

    def _schedule_retry(
        self, step: AutomationExecutionStep | None, error: ActionError, delay_s: float, ms: int
    ) -> None:
        assert step is not None
        execution = self.execution
        due = timezone.now() + timedelta(seconds=delay_s)
        step.status = StepStatus.RETRYING
        step.error_message = error.message
        step.execution_time_ms = ms
        step.output = {"error": error.message, "retry_at": due.isoformat()}
        # Short waits ride on a broker countdown; longer ones are left to the sweep, which sends
        # the execution when it is due (broker ETAs beyond the visibility timeout duplicate).
        short = delay_s <= settings.RETRY_COUNTDOWN_MAX_S
        with transaction.atomic():
            self._fenced_update(
                status=ExecutionStatus.QUEUED,
                next_attempt_at=due,
                dispatched_at=due if short else None,
                lease_expires_at=None,
                locked_by="",
                **self._progress(),
            )
            self._flush()
            step.save()
            if short:
                execution_dispatch(execution.pk, countdown=delay_s)

    def _pause(self, step: AutomationExecutionStep, wait: StepWaiting, ms: int) -> None:
        """Park the execution until ``wait.until`` or a decision; no worker holds it."""
        until = wait.until
        step.status = StepStatus.WAITING
        step.execution_time_ms = ms
        step.output = {**wait.state, "waiting_for": wait.reason}
        short = until is not None and (until - timezone.now()).total_seconds() <= (
            settings.RETRY_COUNTDOWN_MAX_S
        )
        with transaction.atomic():
            self._fenced_update(
                status=ExecutionStatus.WAITING,
                next_attempt_at=until,
                dispatched_at=until if short else None,
                lease_expires_at=None,
                locked_by="",
                **self._progress(),
            )
            self._flush()
            step.save()
            if short and until is not None:
                execution_dispatch(
                    self.execution.pk, countdown=(until - timezone.now()).total_seconds()
                )

    def _finish(self, status: str, error: str) -> None:
        execution = self.execution
        if status == ExecutionStatus.COMPLETED and self._cancel_requested():
            # Steps without side effects ran without a write in between: the cancel that came
            # meanwhile still wins over "completed".
            status, error = ExecutionStatus.CANCELLED, "Cancelled."
        logger.info("execution %s %s%s", execution.pk, status, f": {error}" if error else "")
        now = timezone.now()
        started = execution.started_at or now
        elapsed_ms = max(0, int((now - started).total_seconds() * 1000))
        with transaction.atomic():
            self._owned_update(
                status=status,
                completed_at=now,
                execution_time_ms=elapsed_ms,
                error_message=error,
                lease_expires_at=None,
                locked_by="",
                **self._progress(),
            )
            self._flush()
            if status != ExecutionStatus.CANCELLED:
                _workflow_counters_update(execution.workflow_id, status, elapsed_ms, now)
            if execution.concurrency_limited:
                _dispatch_next_waiting(execution.workflow_id, now)
            transaction.on_commit(
                lambda: events.emit(
                    events.EXECUTION_FINISHED,
                    execution_id=execution.pk,
                    workflow_id=execution.workflow_id,
                    status=status,
                    error=error,
                    execution_time_ms=elapsed_ms,
                )
            )


def _dispatch_next_waiting(workflow_id: int, now: datetime) -> None:
    """A slot of a concurrency-limited workflow came free: wake its oldest waiting execution."""
    waiting = (
        AutomationExecution.objects.filter(_due(now), workflow_id=workflow_id)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    if waiting is not None:
        execution_dispatch(waiting)


def _workflow_counters_update(workflow_id: int, status: str, elapsed_ms: int, now: Any) -> None:
    """Move the workflow's counters and running average in one atomic UPDATE."""
    finished = F("success_count") + F("failure_count")
    succeeded = status == ExecutionStatus.COMPLETED
    AutomationWorkflow.objects.filter(pk=workflow_id).update(
        run_count=F("run_count") + 1,
        success_count=F("success_count") + int(succeeded),
        failure_count=F("failure_count") + int(not succeeded),
        avg_execution_time_ms=(F("avg_execution_time_ms") * finished + elapsed_ms) / (finished + 1),
        last_run_at=now,
        last_status=status,
    )
