"""Action types that only the fault-injection tests install (through ACTION_TYPES_EXTRA)."""

import os
from typing import Any

from workflows.actions.base import Action, StepRun


class CrashAction(Action):
    """Kills the worker process that runs it, every time: a poison step."""

    type = "crash"

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        os._exit(137)
