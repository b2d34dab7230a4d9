"""Approval steps as the execution page shows them: the question still open, or the decision made.

Read from the step's record. While it waits, ``output`` holds ``message`` and ``deadline``; a
decision adds ``decision``, ``decided_by``, ``comment`` and ``decided_at`` until a worker resumes
the execution; once the step has completed, ``output`` is the approval's outcome (``approved``,
``decided_by``, ``comment``, ``timed_out``…). The rendered ``input`` says what a timeout decides.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from workflows.models import (
    AutomationExecution,
    AutomationExecutionStep,
    ExecutionStatus,
    StepStatus,
)

APPROVAL = "approval"


@dataclass(frozen=True)
class Approval:
    step: AutomationExecutionStep
    message: str
    deadline: datetime | None
    timeout_outcome: str  # "approve" or "reject": what happens at the deadline
    decision: str  # "" while undecided, else "approved" or "rejected"
    decided_by: str
    decided_at: datetime | None
    comment: str
    timed_out: bool
    # The approvers named (users, groups; empty: any staff member), the approvals needed, the
    # votes so far, and the declared fields' current values.
    approvers: tuple[str, ...]
    quorum: int
    votes: tuple[dict[str, Any], ...]
    fields: dict[str, str]

    @property
    def is_open(self) -> bool:
        return not self.decision


def _when(value: Any) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) and value else None


def _decision(output: dict[str, Any]) -> str:
    if output.get("decision") in ("approved", "rejected"):
        return str(output["decision"])
    if "approved" in output:
        return "approved" if output["approved"] else "rejected"
    return ""


def approval_of(step: AutomationExecutionStep) -> Approval | None:
    """What an approval step asked and what was decided; None for any other kind of step."""
    if step.step_type != APPROVAL:
        return None
    output = step.output if isinstance(step.output, dict) else {}
    params = step.input if isinstance(step.input, dict) else {}
    return Approval(
        step=step,
        message=str(output.get("message") or params.get("message") or ""),
        deadline=_when(output.get("deadline")),
        timeout_outcome=str(params.get("timeout_outcome") or "reject"),
        decision=_decision(output),
        decided_by=str(output.get("decided_by") or ""),
        decided_at=_when(output.get("decided_at")),
        comment=str(output.get("comment") or ""),
        timed_out=bool(output.get("timed_out")),
        approvers=_approvers(params),
        quorum=int(params.get("quorum") or 1),
        votes=tuple(vote for vote in output.get("votes") or () if isinstance(vote, dict)),
        fields={
            str(name): str(value)
            for name, value in {
                **(params.get("fields") or {}),
                **(output.get("fields") or {}),
            }.items()
        },
    )


def _approvers(params: dict[str, Any]) -> tuple[str, ...]:
    named = params.get("approvers")
    if not isinstance(named, dict):
        return ()
    users = [str(name) for name in named.get("users") or []]
    groups = [f"group {name}" for name in named.get("groups") or []]
    return tuple(users + groups)


def approval_pending(execution: AutomationExecution) -> Approval | None:
    """The undecided approval the execution waits on, as ``execution_decide`` would pick it (the
    last waiting approval step); None when it waits on nothing to decide. Reads the prefetched
    steps: no query."""
    if execution.status != ExecutionStatus.WAITING:
        return None
    waiting = [
        step
        for step in execution.steps.all()
        if step.status == StepStatus.WAITING and step.step_type == APPROVAL
    ]
    if not waiting:
        return None
    approval = approval_of(max(waiting, key=lambda step: step.step_index))
    return approval if approval is not None and approval.is_open else None
