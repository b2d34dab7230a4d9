"""The overlap policy (``AutomationWorkflow.overlap_policy``): what a new execution of a workflow
does while another execution of it is under way (queued, running or waiting).

- ``allow``: nothing; runs go alongside each other.
- ``queue``: the new run waits its turn; at most ``max_concurrency`` (none given: 1) run at once
  (the claim in workflows/engine/claim.py enforces it).
- ``skip``: nothing is created; ``execution_create`` raises OverlapSkipped.
- ``cancel_running``: every run under way is cancelled, then the new one starts.
- ``cancel_new``: the new run is recorded already cancelled, and never reaches a worker.

Also which settings go together: ``max_concurrency`` only with ``queue``.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rest_framework import serializers

from workflows.models import (
    ActorKind,
    AutomationExecution,
    AutomationWorkflow,
    ExecutionStatus,
    OverlapPolicy,
)
from workflows.services.audit import Actor

UNDER_WAY_STATUSES = (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING, ExecutionStatus.WAITING)
# The policies that look at the runs under way, and so lock the workflow's row while they do.
LOOKING_POLICIES = (OverlapPolicy.SKIP, OverlapPolicy.CANCEL_RUNNING, OverlapPolicy.CANCEL_NEW)


class OverlapSkipped(Exception):
    """The workflow's policy is ``skip`` and one of its executions is under way: nothing started."""

    def __init__(self, under_way_id: int) -> None:
        self.under_way_id = under_way_id
        super().__init__(
            f"Skipped: execution {under_way_id} of this workflow is under way "
            "(overlap_policy skip)."
        )


def overlap_limit(*, max_concurrency: int | None, overlap_policy: str) -> int | None:
    """How many executions of a workflow may run at once; None: no limit. ``queue`` without a
    ``max_concurrency`` runs one at a time."""
    if max_concurrency is not None:
        return max_concurrency
    return 1 if overlap_policy == OverlapPolicy.QUEUE else None


def overlap_settings(*, data: dict[str, Any], current: AutomationWorkflow | None) -> dict[str, Any]:
    """``data`` (a workflow write) with its ``overlap_policy`` settled. Without one, a write that
    gives ``max_concurrency`` picks the policy that goes with it: ``queue`` for a number, and
    for null a ``queue`` workflow goes back to ``allow`` (no limit) while other policies stay.

    A write that gives neither is returned as it is. Raises serializers.ValidationError naming
    ``max_concurrency`` when the result would pair one with a policy other than ``queue``.
    """
    if "overlap_policy" not in data and "max_concurrency" not in data:
        return data
    policy = data.get("overlap_policy")
    limit = data.get("max_concurrency", current.max_concurrency if current else None)
    before = current.overlap_policy if current else OverlapPolicy.ALLOW
    if policy is None and "max_concurrency" in data:
        if limit is not None:
            policy = OverlapPolicy.QUEUE
        elif before == OverlapPolicy.QUEUE:
            policy = OverlapPolicy.ALLOW
    policy = policy or before
    if limit is not None and policy != OverlapPolicy.QUEUE:
        raise serializers.ValidationError(
            {
                "max_concurrency": [
                    f"Only goes with overlap_policy queue (this workflow's is {policy}); "
                    "set it to null, or the policy to queue."
                ]
            }
        )
    return {**data, "overlap_policy": policy}


@dataclass(frozen=True)
class Overlap:
    """What a new execution is created with (``fields``), whether it goes to a worker, and the
    runs under way to cancel first (``cancel``, by ``canceller``)."""

    fields: dict[str, Any]
    dispatch: bool
    cancel: tuple[int, ...] = ()
    canceller: Actor | None = None


def overlap_apply(
    *,
    workflow: AutomationWorkflow,
    triggered_by: Actor | None,
    marked: datetime,
    now: datetime,
    live: bool = True,
) -> Overlap:
    """Apply the workflow's policy to a new execution about to be created, in the creating
    transaction. For the policies that look at the runs under way, the workflow's row is
    locked until that transaction ends, so two triggers at once cannot both find none. A run
    that is not ``live`` (a backfill's, paced by its job) only keeps the ``queue`` limit.

    Raises OverlapSkipped (policy ``skip`` with a run under way).
    """
    policy = workflow.overlap_policy
    queued = {
        "dispatched_at": marked,
        "concurrency_limited": overlap_limit(
            max_concurrency=workflow.max_concurrency, overlap_policy=policy
        )
        is not None,
    }
    if policy not in LOOKING_POLICIES or not live:
        return Overlap(fields=queued, dispatch=True)
    AutomationWorkflow.objects.select_for_update().filter(pk=workflow.pk).values_list("pk").first()
    under_way = list(
        AutomationExecution.objects.filter(workflow=workflow, status__in=UNDER_WAY_STATUSES)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not under_way:
        return Overlap(fields=queued, dispatch=True)
    if policy == OverlapPolicy.SKIP:
        raise OverlapSkipped(under_way[0])
    if policy == OverlapPolicy.CANCEL_RUNNING:
        canceller = _canceller(workflow, triggered_by)
        return Overlap(fields=queued, dispatch=True, cancel=tuple(under_way), canceller=canceller)
    message = (
        f"Cancelled: execution {under_way[0]} of this workflow is under way "
        "(overlap_policy cancel_new)."
    )
    cancelled = {
        "status": ExecutionStatus.CANCELLED,
        "completed_at": now,
        "error_message": message,
        "execution_time_ms": 0,
        "wall_time_ms": 0,
        "dispatched_at": None,
        "concurrency_limited": False,
    }
    return Overlap(fields=cancelled, dispatch=False)


def _canceller(workflow: AutomationWorkflow, triggered_by: Actor | None) -> Actor:
    """Who the audit trail says cancelled the runs under way: the schedule that fired, else
    the workflow's policy."""
    if triggered_by is not None and triggered_by.kind == ActorKind.SCHEDULE:
        return triggered_by
    return Actor(ActorKind.WORKFLOW, workflow.name, workflow.pk)
