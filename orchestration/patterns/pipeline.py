from typing import Any

from orchestration.patterns.base import Pattern, RunState


class PipelinePattern(Pattern):
    """Calls in dependency order, each seeing the previous call's ``{status_code, body,
    extracted}`` as ``prev`` (None for the first); the run's result is the last call's output."""

    name = "pipeline"
    label = "Pipeline"

    def template_context(self, state: RunState) -> dict[str, Any]:
        previous = state.last_succeeded()
        prev = previous.template_value() if previous is not None else None
        return {**super().template_context(state), "prev": prev}

    def result(self, state: RunState) -> Any:
        last = state.last_succeeded()
        return last.output if last is not None else None
