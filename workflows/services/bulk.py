"""Retry or cancel many executions at once, one by one through the single-execution services: a
row in the wrong state (or gone) is skipped, never an error for the rest."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from workflows.models import AutomationExecution, ExecutionStatus
from workflows.services.audit import Actor
from workflows.services.executions import ExecutionConflict, execution_cancel, execution_retry

BULK_LIMIT = 500


@dataclass
class BulkOutcome:
    """What a bulk action did: ``done`` acted on now, ``stopping`` running ones asked to stop
    before their next step (cancel only), ``skipped`` in the wrong state or gone."""

    done: list[int] = field(default_factory=list)
    stopping: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


def _each(
    execution_ids: Iterable[int],
    service: Callable[..., AutomationExecution],
    actor: Actor | None,
) -> BulkOutcome:
    ids = list(dict.fromkeys(execution_ids))
    if len(ids) > BULK_LIMIT:
        raise ValueError(f"At most {BULK_LIMIT} executions per bulk action; got {len(ids)}.")
    outcome = BulkOutcome()
    found = AutomationExecution.objects.in_bulk(ids)
    for pk in ids:
        execution = found.get(pk)
        if execution is None:
            outcome.skipped.append(pk)
            continue
        try:
            updated = service(execution=execution, actor=actor)
        except (ExecutionConflict, AutomationExecution.DoesNotExist):
            outcome.skipped.append(pk)
            continue
        asked_to_stop = updated.status == ExecutionStatus.RUNNING
        (outcome.stopping if asked_to_stop else outcome.done).append(pk)
    return outcome


def executions_retry(*, execution_ids: Iterable[int], actor: Actor | None = None) -> BulkOutcome:
    """Resume each failed execution from its failed step; any other is skipped.

    Raises ValueError for more than BULK_LIMIT ids."""
    return _each(execution_ids, execution_retry, actor)


def executions_cancel(*, execution_ids: Iterable[int], actor: Actor | None = None) -> BulkOutcome:
    """Cancel each unfinished execution (a running one stops before its next step); finished
    ones are skipped.

    Raises ValueError for more than BULK_LIMIT ids."""
    return _each(execution_ids, execution_cancel, actor)
