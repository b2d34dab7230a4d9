"""An action type whose outcome each test scripts (installed through ACTION_TYPES_EXTRA), and a
log of every time it really ran."""

from collections import defaultdict, deque
from typing import Any

from workflows.actions.base import Action, ActionError, StepRun

# (execution id, step id) → the outcomes of its next runs; none scripted: "ok".
SCRIPT: dict[tuple[int, str], deque[str]] = defaultdict(deque)
# Every run that got as far as its side effect: (execution id, step id, outcome).
RUNS: list[tuple[int, str, str]] = []


class WorkerDied(BaseException):
    """The worker running a step is killed: nothing after this point is written."""


class ScriptedAction(Action):
    type = "scripted"
    label = "Scripted"
    description = "Test-only: does what the test scripted for it."
    side_effects = True

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        key = (step.execution_id, step.step_id)
        outcome = SCRIPT[key].popleft() if SCRIPT[key] else "ok"
        RUNS.append((step.execution_id, step.step_id, outcome))
        if outcome == "retryable":
            raise ActionError("busy, try again", retryable=True)
        if outcome == "fail":
            raise ActionError("refused")
        if outcome == "die":
            raise WorkerDied()
        return {"attempt": step.attempt}
