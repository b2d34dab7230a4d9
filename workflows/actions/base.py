"""The interface every action executor implements, and the errors it raises."""

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from rest_framework import serializers

from workflows.templating import has_template


class ActionError(Exception):
    """A step failed. ``retryable`` says whether trying again may succeed."""

    def __init__(self, message: str, *, retryable: bool = False, output: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.output = output


class StepWaiting(Exception):
    """The step pauses its execution, holding no worker, until ``until`` (None: until somebody
    decides). ``state`` is kept on the step and handed back to ``run`` when it resumes."""

    def __init__(self, *, until: datetime | None, state: dict[str, Any], reason: str) -> None:
        super().__init__(reason)
        self.until = until
        self.state = state
        self.reason = reason


@dataclass(frozen=True)
class StepRun:
    """What an executor knows about the step it runs, beside its rendered params."""

    execution_id: int
    workflow_id: int
    step_id: str
    attempt: int
    timeout_s: float
    context: Mapping[str, Any] = field(default_factory=dict)
    # How many triggers deep this execution is (0: started by a person, schedule or webhook).
    depth: int = 0
    # What the step kept when it last paused (StepWaiting.state), plus any decision made since.
    state: Mapping[str, Any] = field(default_factory=dict)

    @property
    def idempotency_key(self) -> str:
        """Stable across retries and redeliveries of the same step."""
        return f"{self.execution_id}-{self.step_id}"


class Templated(serializers.Field):
    """A param that may be a template at save time and must be valid once rendered."""

    def __init__(self, inner: serializers.Field, **kwargs: Any) -> None:
        self.inner = inner
        kwargs.setdefault("required", inner.required)
        if not inner.required and inner.default is not serializers.empty:
            kwargs.setdefault("default", inner.default)
        super().__init__(**kwargs)

    def bind(self, field_name: str, parent: Any) -> None:
        super().bind(field_name, parent)
        self.inner.bind(field_name, parent)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and has_template(data) and not self.context.get("rendered"):
            return data
        return self.inner.run_validation(data)

    def to_representation(self, value: Any) -> Any:
        return value


class Action:
    """An action type: validates its params and runs one step.

    ``validate`` is called when a workflow is saved (params may still hold templates) and again
    with the rendered params before ``run``; ``run`` returns the step's output (JSON-serialisable)
    or raises ActionError.
    """

    type: ClassVar[str]
    label: ClassVar[str] = ""
    side_effects: ClassVar[bool] = True
    params_serializer: ClassVar[builtins.type[serializers.Serializer[Any]]]

    def validate(self, params: Any, *, rendered: bool = False) -> dict[str, Any]:
        """Return the cleaned params; raise serializers.ValidationError naming the bad fields."""
        if not isinstance(params, dict):
            raise serializers.ValidationError({"params": ["Must be an object."]})
        serializer = self.params_serializer(data=params, context={"rendered": rendered})
        unknown = sorted(set(params) - set(serializer.fields))
        if unknown:
            known = ", ".join(sorted(serializer.fields))
            raise serializers.ValidationError(
                {name: [f"Unknown param. Known params: {known}."] for name in unknown}
            )
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        raise NotImplementedError
