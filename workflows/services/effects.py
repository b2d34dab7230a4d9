"""The effect ledger. A side-effecting action asks whether its effect was already made under
the step's key before making it, and records it once made:

    made = effect_recall(key=key)
    if made is None:
        made = send(...)
        effect_record(key=key, step=step, result=made)

A redelivered step then skips the effect: exactly once for effects we make in our own database,
at least once — always with the same idempotency key — for a target that fails after our request
arrived but before we recorded it.
"""

from typing import Any

from workflows.actions.base import StepRun
from workflows.models import StepEffect


def effect_recall(*, key: str) -> dict[str, Any] | None:
    """The result recorded for ``key``, or None when the effect was not made yet."""
    return StepEffect.objects.filter(key=key).values_list("result", flat=True).first()


def effect_record(*, key: str, step: StepRun, result: dict[str, Any]) -> None:
    StepEffect.objects.get_or_create(
        key=key,
        defaults={"execution_id": step.execution_id, "step_id": step.step_id, "result": result},
    )
