"""Action types that only the fault-injection tests install (through ACTION_TYPES_EXTRA)."""

import os
from typing import Any

from rest_framework import serializers

from workflows.actions.base import Action, StepRun


class NoParams(serializers.Serializer):
    pass


class CrashAction(Action):
    """Kills the worker process that runs it, every time: a poison step."""

    type = "crash"
    params_serializer = NoParams

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        os._exit(137)
