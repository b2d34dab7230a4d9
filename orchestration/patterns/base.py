"""What every orchestration pattern shares: the plan it runs, the state of a run, its hooks.

A pattern is a small class that tells the one scheduler (``scheduler.py``) how many calls may be
in flight, whether a ready call is skipped, what its templates see, and what the run's result is.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from orchestration.patterns.calls import SUCCEEDED, CallOutcome
from orchestration.patterns.retry import RetryStrategy


@dataclass(frozen=True)
class Plan:
    """An orchestration's definition: its calls in list order, their dependencies, retries."""

    calls: tuple[Mapping[str, Any], ...]
    dependencies: Mapping[str, tuple[str, ...]]
    retry: RetryStrategy

    @classmethod
    def from_definition(cls, definition: Mapping[str, Any]) -> "Plan":
        """Build from a validated ``{api_calls, dependencies, retry_strategy}``."""
        dependencies = definition.get("dependencies") or {}
        return cls(
            calls=tuple(definition.get("api_calls") or ()),
            dependencies={key: tuple(value) for key, value in dependencies.items()},
            retry=RetryStrategy.from_dict(definition.get("retry_strategy")),
        )

    def call(self, call_id: str) -> Mapping[str, Any]:
        return next(call for call in self.calls if call["id"] == call_id)


@dataclass
class RunState:
    """A run in progress: its input and each finished call's outcome, in finishing order."""

    input: Any
    outcomes: dict[str, CallOutcome] = field(default_factory=dict)

    def calls_context(self) -> dict[str, dict[str, Any]]:
        """``calls.<id>`` for templates: every call that succeeded so far."""
        return {
            call_id: outcome.template_value()
            for call_id, outcome in self.outcomes.items()
            if outcome.status == SUCCEEDED
        }

    def last_succeeded(self) -> CallOutcome | None:
        succeeded = [o for o in self.outcomes.values() if o.status == SUCCEEDED]
        return succeeded[-1] if succeeded else None


class Pattern:
    """The default behaviour: one call at a time, no conditions, result by call id."""

    name: ClassVar[str]
    label: ClassVar[str]
    # Whether each call's ``condition`` decides if it runs (only the conditional pattern).
    uses_conditions: ClassVar[bool] = False

    def pool_size(self) -> int:
        """How many calls may be in flight at once."""
        return 1

    def skip_reason(self, call: Mapping[str, Any], state: RunState) -> str:
        """Why a call whose dependencies succeeded is skipped, or "" to run it.

        May raise TemplateError, which fails the call.
        """
        return ""

    def template_context(self, state: RunState) -> dict[str, Any]:
        return {"input": state.input, "calls": state.calls_context()}

    def result(self, state: RunState) -> Any:
        """The run's result once every call is done and none failed."""
        return {
            call_id: outcome.output
            for call_id, outcome in state.outcomes.items()
            if outcome.status == SUCCEEDED
        }
