from collections.abc import Mapping
from typing import Any

from orchestration.patterns.base import Pattern, RunState
from workflows.templating import condition_evaluate


class ConditionalPattern(Pattern):
    """Calls in dependency order; each call's ``condition`` (a Jinja2 expression seeing ``input``
    and the earlier ``calls``) decides whether it runs. A false one skips the call, and the
    scheduler skips the calls that depend on it."""

    name = "conditional"
    label = "Conditional"
    uses_conditions = True

    def skip_reason(self, call: Mapping[str, Any], state: RunState) -> str:
        condition = call.get("condition")
        if not condition or condition_evaluate(condition, self.template_context(state)):
            return ""
        return f"skipped: condition is false: {condition}"
