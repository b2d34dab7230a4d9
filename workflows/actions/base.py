"""The interface every action executor implements, and the errors it raises."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from jsonschema import Draft202012Validator
from rest_framework import serializers

from workflows.actions.schema import (
    params_coerce,
    params_defaults,
    schema_errors,
    schema_templated,
    validator_for,
)
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
    # A replay's: the execution whose effect-ledger keys it uses (workflows/services/replay.py).
    effect_scope: int | None = None

    @property
    def idempotency_key(self) -> str:
        """Stable across retries and redeliveries of the same step, and across replays that
        do not force effects: the key under which its effect is recorded and sent."""
        return f"{self.effect_scope or self.execution_id}-{self.step_id}"


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

    ``params_schema`` (JSON Schema, see workflows.actions.schema) is the contract of the params;
    ``params_check`` adds what a schema cannot say (a connection exists, a JMESPath compiles).
    ``validate`` is called when a workflow is saved (params may still hold templates) and again
    with the rendered params before ``run``; ``run`` returns the step's output (JSON-serialisable)
    or raises ActionError.
    """

    type: ClassVar[str]
    label: ClassVar[str] = ""
    # What it does, in a sentence or two: the catalogue and docs/actions.md show it.
    description: ClassVar[str] = ""
    # Where the step editor files it: "data", "flow", "content", "messages", "monitoring".
    group: ClassVar[str] = "other"
    side_effects: ClassVar[bool] = True
    params_schema: ClassVar[dict[str, Any]] = {"type": "object", "additionalProperties": False}
    # A whole action definition using it, as a workflow's ``actions`` list holds it.
    example: ClassVar[dict[str, Any]] = {}

    def validate(self, params: Any, *, rendered: bool = False) -> dict[str, Any]:
        """Return the params with defaults filled in; raise serializers.ValidationError naming
        the bad fields."""
        if not isinstance(params, dict):
            raise serializers.ValidationError({"params": ["Must be an object."]})
        params = self.params_normalize(params)
        if rendered:
            params = params_coerce(self.params_schema, params)
        errors = schema_errors(self._validator(rendered), params)
        if not errors:
            errors = self.params_check(params, rendered=rendered)
        if errors:
            raise serializers.ValidationError(errors)
        return params_defaults(self.params_schema, params)

    def params_normalize(self, params: dict[str, Any]) -> dict[str, Any]:
        """Shorthands the action accepts, spelled out before validation (a lower-case method)."""
        return params

    def params_check(self, params: dict[str, Any], *, rendered: bool) -> dict[str, Any]:
        """Problems the schema cannot see, as ``{field: [messages]}``; ``params`` passed the
        schema. Values may still be templates unless ``rendered``."""
        return {}

    def _validator(self, rendered: bool) -> Draft202012Validator:
        cache = self.__dict__.setdefault("_validators", {})
        if rendered not in cache:
            schema = self.params_schema if rendered else schema_templated(self.params_schema)
            cache[rendered] = validator_for(schema)
        validator: Draft202012Validator = cache[rendered]
        return validator

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        raise NotImplementedError
