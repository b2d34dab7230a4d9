"""The step loop: claim the execution, then run its steps in order from the first one not yet
done, deciding after each what happens next — the next step, a retry, a pause, or the end.

Owns the decisions; every write goes through record.py (fenced on the attempt), waits.py and
finish.py. A re-delivered execution resumes at the first step not yet done; a done step never
runs again.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone
from opentelemetry.trace import SpanKind
from rest_framework import serializers

from core.tracing import span, span_failed, span_set
from integrations.redaction import redact, secrets_registered
from workflows import events
from workflows.actions.base import ActionError, StepRun, StepWaiting
from workflows.actions.registry import UnknownActionType, action_get
from workflows.engine.claim import execution_claim
from workflows.engine.errors import CancelRequested, StaleAttempt
from workflows.engine.finish import finish
from workflows.engine.record import Progress
from workflows.engine.waits import pause, retry_schedule
from workflows.lease import LeaseKeeper
from workflows.logcontext import log_context, log_context_set
from workflows.models import STEP_DONE_STATUSES, AutomationExecution, ExecutionStatus, StepStatus
from workflows.retry import RetryPolicy
from workflows.templating import TemplateError, condition_evaluate, params_render

# One logger for the whole engine, as operators filter on it.
logger = logging.getLogger("workflows.engine")


def execution_run(*, execution_id: int, worker: str) -> None:
    """Claim the execution and run it to its end, a retry wait, a pause, or a refusal."""
    with log_context(execution_id=execution_id):
        execution = execution_claim(execution_id=execution_id, worker=worker)
        if execution is None:
            logger.info("execution %s is not claimable; nothing to do", execution_id)
            return
        log_context_set(workflow_id=execution.workflow_id, attempt=execution.attempt)
        attributes = {
            "workflow.id": execution.workflow_id,
            "workflow.execution.id": execution.pk,
            "workflow.execution.attempt": execution.attempt,
        }
        try:
            with (
                span(
                    "execution",
                    kind=SpanKind.CONSUMER,
                    parent=execution.traceparent,
                    attributes=attributes,
                ),
                LeaseKeeper(execution.pk, execution.attempt),
            ):
                Runner(execution).run()
        except StaleAttempt:
            logger.warning(
                "execution %s attempt %s was superseded; its result is refused",
                execution_id,
                execution.attempt,
            )


@dataclass
class Runner:
    execution: AutomationExecution
    progress: Progress = field(init=False)

    def __post_init__(self) -> None:
        self.progress = Progress(self.execution)

    def run(self) -> None:
        execution = self.execution
        if execution.deliveries > settings.EXECUTION_MAX_DELIVERIES:
            finish(
                self.progress,
                ExecutionStatus.FAILED,
                f"Gave up after {execution.deliveries - 1} deliveries without progress: the "
                "worker running this execution kept dying (out of memory, killed, or crashed).",
            )
            return
        if execution.cancel_requested:
            finish(self.progress, ExecutionStatus.CANCELLED, "Cancelled.")
            return
        try:
            for index, action in enumerate(execution.definition.get("actions", [])):
                step = self.progress.steps.get(index)
                if step is not None and step.status in STEP_DONE_STATUSES:
                    continue
                attributes = {
                    "workflow.step.id": action.get("id", ""),
                    "workflow.step.type": action.get("type", ""),
                }
                with (
                    log_context(step_id=action.get("id")),
                    span(f"step {action.get('type', '')}", attributes=attributes),
                ):
                    if not self._run_step(index, action):
                        return
        except CancelRequested:
            finish(self.progress, ExecutionStatus.CANCELLED, "Cancelled.")
            return
        finish(self.progress, ExecutionStatus.COMPLETED, "")

    def _template_context(self) -> dict[str, Any]:
        execution = self.execution
        return {
            "trigger": execution.trigger_payload,
            "article": execution.context.get("article"),
            "webhook": execution.context.get("webhook"),
            "workflow": {"id": execution.workflow_id, "name": execution.definition.get("name", "")},
            "execution": {"id": execution.pk, "attempt": execution.attempt},
            "steps": execution.context["steps"],
            "now": timezone.now().isoformat(),
        }

    def _run_step(self, index: int, action: dict[str, Any]) -> bool:
        """Run one step. Returns False when the execution stops here (failed or waiting)."""
        context = self._template_context()
        condition = action.get("condition")
        try:
            if condition and not condition_evaluate(condition, context):
                self.progress.done(index, action, StepStatus.SKIPPED, {})
                return True
            executor = action_get(action["type"])
            params = executor.validate(
                params_render(action.get("params", {}), context), rendered=True
            )
        except (TemplateError, UnknownActionType) as exc:
            return self._step_failed(index, action, ActionError(str(exc)))
        except serializers.ValidationError as exc:
            error = ActionError(f"Invalid params after rendering: {exc.detail}")
            return self._step_failed(index, action, error)
        kept = self.progress.steps.get(index)
        state = kept.output if kept is not None and kept.status == StepStatus.WAITING else {}
        step = self.progress.start(index, action, params, side_effects=executor.side_effects)
        log_context_set(step_attempt=step.attempts)
        span_set(workflow__step__attempt=step.attempts)
        run = StepRun(
            execution_id=self.execution.pk,
            workflow_id=self.execution.workflow_id,
            step_id=action["id"],
            attempt=step.attempts,
            timeout_s=float(action.get("timeout_s") or settings.STEP_DEFAULT_TIMEOUT_S),
            context=context,
            depth=int(self.execution.context.get("depth", 0)),
            state=state,
            effect_scope=self.execution.effect_scope,
        )
        try:
            output = executor.run(params, run)
        except StepWaiting as wait:
            pause(self.progress, step, wait)
            return False
        except ActionError as exc:
            return self._step_failed(index, action, exc)
        except Exception as exc:
            logger.exception("action %s of execution %s crashed", action["id"], self.execution.pk)
            error = ActionError(f"Internal error in {action['type']}: {type(exc).__name__}: {exc}")
            return self._step_failed(index, action, error)
        self.progress.done(
            index, action, StepStatus.COMPLETED, output, deferred=not executor.side_effects
        )
        return True

    def _step_failed(self, index: int, action: dict[str, Any], error: ActionError) -> bool:
        error.message = redact(error.message, secrets_registered())
        span_failed(error.message)
        step = self.progress.steps.get(index)
        attempts = step.attempts if step is not None else 0
        policy = RetryPolicy.from_action(action)
        if step is not None and error.retryable and 0 < attempts < policy.max_attempts:
            retry_schedule(self.progress, step, error, policy.delay_after(attempts))
            return False
        logger.warning(
            "step %s (%s) failed: %s", action["id"], action.get("type", ""), error.message
        )
        output: dict[str, Any] = {"error": error.message}
        if error.output is not None:
            output["response"] = error.output
        execution = self.execution
        failed = {
            "execution_id": execution.pk,
            "workflow_id": execution.workflow_id,
            "step_id": action["id"],
            "step_type": action.get("type", ""),
            "error": error.message,
        }
        self.progress.done(
            index,
            action,
            StepStatus.FAILED,
            output,
            error=error.message,
            event=(events.STEP_FAILED, failed),
        )
        if action.get("continue_on_failure"):
            return True
        label = action.get("name") or action["id"]
        finish(self.progress, ExecutionStatus.FAILED, f"Step '{label}' failed: {error.message}")
        return False
