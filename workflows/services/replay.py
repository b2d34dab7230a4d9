"""Replays: a new execution that re-runs a finished one — from the start or from any step, on
the revision it ran with or on the workflow's current one — with chosen steps marked done
(completed with an output the user supplies, or skipped) instead of run.

The steps before ``from_step`` are carried over: their outputs are the origin's, and the steps
after read them as if they had just run. The replay is linked to its origin (``replay_of``,
``replay_from_step``) and started by ``triggered_by`` kind ``replay``. Asked for by a person, a
replay is not subject to the workflow's overlap policy; a ``queue`` limit still holds.

Effects are not made twice. A replay uses its origin's effect-ledger keys (``effect_scope``:
the first execution of the line), so a step whose effect the origin already made — a message
posted, a commit pushed, a notification sent — finds it in the ledger and returns what was
recorded instead of making it again; an ``api_call`` carries the origin's ``Idempotency-Key``.
With ``force_effects`` the replay gets keys of its own and every effect is made again.
``replay_plan`` says, before anything starts, which steps are carried, marked or run, and which
of those run would send, commit or post again.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from rest_framework import serializers

from core.tracing import traceparent
from workflows.actions.registry import UnknownActionType, action_get
from workflows.dispatch import dispatch_mark
from workflows.models import (
    FINISHED_STATUSES,
    ActorKind,
    AutomationExecution,
    AutomationExecutionStep,
    Job,
    JobKind,
    StepEffect,
    StepStatus,
)
from workflows.services.audit import Actor, audit_record
from workflows.services.dispatch import execution_dispatch
from workflows.services.executions import (
    ExecutionConflict,
    execution_definition,
    latest_revision_id,
)
from workflows.services.jobs import MAX_CONCURRENCY_DEFAULT, job_create
from workflows.services.overlap import overlap_limit

ORIGINAL = "original"
CURRENT = "current"
REVISIONS = (ORIGINAL, CURRENT)
MARK_STATUSES = (StepStatus.COMPLETED.value, StepStatus.SKIPPED.value)

# What happens to each step of the replay.
CARRIED = "carried"  # before from_step: the origin's output is kept
MARKED = "marked"  # marked completed or skipped by the user: not run
RUNS = "runs"

# What a step that runs does about its side effects.
NO_EFFECTS = "none"  # the action has none (transform, wait, condition…)
NEW_EFFECT = "new"  # not made by the origin: made now
RECORDED = "recorded"  # made by the origin: recalled from the ledger, not made again
AGAIN = "again"  # made by the origin and made again (force_effects)


@dataclass(frozen=True)
class StepPlan:
    index: int
    step_id: str
    type: str
    name: str
    plan: str
    effects: str
    status: str = ""  # carried or marked: the status the step starts with
    output: Any = None


@dataclass(frozen=True)
class ReplayPlan:
    origin: AutomationExecution
    revision: str
    definition: dict[str, Any]
    revision_id: int | None
    workflow_version: int
    from_step: str
    force_effects: bool
    steps: list[StepPlan]

    @property
    def effect_scope(self) -> int | None:
        """The ledger keys the replay uses: the line's first execution's, unless forced."""
        if self.force_effects:
            return None
        return self.origin.effect_scope or self.origin.pk

    def as_dict(self) -> dict[str, Any]:
        return {
            "execution_id": self.origin.pk,
            "revision": self.revision,
            "from_step": self.from_step or None,
            "force_effects": self.force_effects,
            "steps": [
                {
                    "step_id": step.step_id,
                    "type": step.type,
                    "name": step.name,
                    "plan": step.plan,
                    "effects": step.effects,
                }
                for step in self.steps
            ],
        }


def _refuse(field: str, message: str) -> serializers.ValidationError:
    return serializers.ValidationError({field: [message]})


def _definition(
    origin: AutomationExecution, revision: str
) -> tuple[dict[str, Any], int | None, int]:
    if revision == CURRENT:
        workflow = origin.workflow
        return execution_definition(workflow), latest_revision_id(workflow), workflow.version
    return origin.definition, origin.revision_id, origin.workflow_version


def _effects_made(scope: int, step_ids: list[str]) -> set[str]:
    """The steps with an effect recorded under the ledger keys of ``scope``: ``{scope}-{step}``,
    or ``{scope}-{step}-{more}`` for a step that makes several (one post per connection)."""
    if not step_ids:
        return set()
    prefixed = Q()
    for step_id in step_ids:
        prefixed |= Q(step_id=step_id, key__startswith=f"{scope}-{step_id}")
    return set(StepEffect.objects.filter(prefixed).values_list("step_id", flat=True))


def _side_effects(action_type: str) -> bool:
    try:
        return action_get(action_type).side_effects
    except UnknownActionType:
        return False


def replay_plan(
    *,
    execution: AutomationExecution,
    from_step: str | None = None,
    revision: str = ORIGINAL,
    mark: dict[str, dict[str, Any]] | None = None,
    force_effects: bool = False,
) -> ReplayPlan:
    """What a replay of ``execution`` would do, step by step. Raises ExecutionConflict while the
    execution is not finished, serializers.ValidationError naming the field for a step that is
    not in the revision or a step before ``from_step`` that did not complete."""
    if not execution.is_finished:
        raise ExecutionConflict(
            f"Only finished executions can be replayed; execution {execution.pk} is "
            f"{execution.status}."
        )
    if revision not in REVISIONS:
        raise _refuse("revision", f"Must be one of: {', '.join(REVISIONS)}.")
    definition, revision_id, version = _definition(execution, revision)
    actions: list[dict[str, Any]] = definition.get("actions", [])
    ids = [action["id"] for action in actions]
    known = f"the {revision} revision has: {', '.join(ids) or 'no steps'}"
    start = 0
    if from_step:
        if from_step not in ids:
            raise _refuse("from_step", f"No step '{from_step}'; {known}.")
        start = ids.index(from_step)
    marks = mark or {}
    unknown = [step_id for step_id in marks if step_id not in ids]
    if unknown:
        raise _refuse("mark", f"No step {', '.join(map(repr, unknown))}; {known}.")
    kept = {step.step_id: step for step in execution.steps.all()}
    scope = execution.effect_scope or execution.pk
    made = _effects_made(scope, ids[start:])
    steps = []
    for index, action in enumerate(actions):
        step_id = action["id"]
        common = {
            "index": index,
            "step_id": step_id,
            "type": action.get("type", ""),
            "name": action.get("name", ""),
        }
        if step_id in marks:
            chosen = marks[step_id]
            steps.append(
                StepPlan(
                    **common,
                    plan=MARKED,
                    effects=NO_EFFECTS,
                    status=chosen["status"],
                    output=chosen.get("output", {}),
                )
            )
            continue
        if index < start:
            origin_step = kept.get(step_id)
            done = origin_step is not None and (
                origin_step.status in MARK_STATUSES
                or (origin_step.status == StepStatus.FAILED and action.get("continue_on_failure"))
            )
            if origin_step is None or not done:
                raise _refuse(
                    "from_step",
                    f"Step '{step_id}' did not complete in execution {execution.pk}: replay "
                    "from it or an earlier step, or mark it completed or skipped.",
                )
            steps.append(
                StepPlan(
                    **common,
                    plan=CARRIED,
                    effects=NO_EFFECTS,
                    status=origin_step.status,
                    output=origin_step.output,
                )
            )
            continue
        if not _side_effects(common["type"]):
            effects = NO_EFFECTS
        elif step_id in made:
            effects = AGAIN if force_effects else RECORDED
        else:
            effects = NEW_EFFECT
        steps.append(StepPlan(**common, plan=RUNS, effects=effects))
    return ReplayPlan(
        origin=execution,
        revision=revision,
        definition=definition,
        revision_id=revision_id,
        workflow_version=version,
        from_step=from_step or "",
        force_effects=force_effects,
        steps=steps,
    )


def _step_rows(plan: ReplayPlan, execution: AutomationExecution) -> list[AutomationExecutionStep]:
    return [
        AutomationExecutionStep(
            execution=execution,
            step_index=step.index,
            step_id=step.step_id,
            step_name=step.name,
            step_type=step.type,
            status=step.status,
            output=step.output,
            execution_time_ms=0,
        )
        for step in plan.steps
        if step.plan != RUNS
    ]


def execution_replay(
    *, plan: ReplayPlan, actor: Actor | None = None, job: Job | None = None
) -> AutomationExecution:
    """Start the replay ``plan`` describes: a new queued execution, sent to a worker after
    commit. The ``actor`` is audited on the origin and named in ``triggered_by``."""
    origin = plan.origin
    workflow = origin.workflow
    marked = dispatch_mark(timezone.now())
    context = {key: value for key, value in origin.context.items() if key != "steps"}
    done = [step for step in plan.steps if step.plan != RUNS]
    context["steps"] = {step.step_id: step.output for step in done}
    who = actor.name if actor is not None else "someone"
    with transaction.atomic():
        execution = AutomationExecution.objects.create(
            workflow=workflow,
            trigger_type=origin.trigger_type,
            trigger_payload=origin.trigger_payload,
            triggered_by=Actor(ActorKind.REPLAY, who, origin.pk).as_dict(),
            definition=plan.definition,
            workflow_version=plan.workflow_version,
            revision_id=plan.revision_id,
            context=context,
            steps_total=len(plan.steps),
            steps_completed=len(done),
            dispatched_at=marked,
            concurrency_limited=overlap_limit(
                max_concurrency=workflow.max_concurrency, overlap_policy=workflow.overlap_policy
            )
            is not None,
            traceparent=traceparent(),
            replay_of=origin,
            replay_from_step=plan.from_step,
            effect_scope=plan.effect_scope,
            job=job,
        )
        AutomationExecutionStep.objects.bulk_create(_step_rows(plan, execution))
        audit_record(
            actor=actor,
            action="replayed",
            object_type="execution",
            object_id=origin.pk,
            detail={
                "workflow_id": origin.workflow_id,
                "replay_id": execution.pk,
                "from_step": plan.from_step or None,
                "revision": plan.revision,
                "force_effects": plan.force_effects,
                "marked": {step.step_id: step.status for step in done if step.plan == MARKED},
            },
        )
        execution_dispatch(execution.pk, marked=marked)
    return execution


# --- bulk replay ---------------------------------------------------------------------------------

FROM_FAILED_STEP = "failed_step"
FROM_START = "start"


def replay_matching(
    *,
    workflow: int | None = None,
    status: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    error_contains: str = "",
) -> QuerySet[AutomationExecution]:
    """The finished executions a bulk replay's filter matches, oldest first."""
    matching = AutomationExecution.objects.filter(status__in=FINISHED_STATUSES)
    if workflow is not None:
        matching = matching.filter(workflow_id=workflow)
    if status:
        matching = matching.filter(status=status)
    if created_after is not None:
        matching = matching.filter(created_at__gte=created_after)
    if created_before is not None:
        matching = matching.filter(created_at__lt=created_before)
    if error_contains:
        matching = matching.filter(error_message__icontains=error_contains)
    return matching.order_by("pk")


def first_step_not_done(execution: AutomationExecution) -> str | None:
    """The step a replay "from the failed step" starts from: the first one that did not
    complete (failed, cancelled or never reached); None when every step is done."""
    rows = {step.step_id: step for step in execution.steps.all()}
    for action in execution.definition.get("actions", []):
        row = rows.get(action["id"])
        carried = row is not None and (
            row.status in MARK_STATUSES
            or (row.status == StepStatus.FAILED and action.get("continue_on_failure"))
        )
        if not carried:
            return str(action["id"])
    return None


def bulk_replay_start(
    *,
    filters: dict[str, Any],
    start_from: str,
    limit: int,
    actor: Actor | None,
    max_concurrency: int = MAX_CONCURRENCY_DEFAULT,
) -> tuple[Job, int]:
    """A job that replays each execution the filter matches (up to ``limit``, oldest first)
    from its failed step or from the start, at most ``max_concurrency`` at once. Returns the
    job and how many matched in all."""
    matching = replay_matching(**filters)
    matched = matching.count()
    ids = list(matching.values_list("pk", flat=True)[:limit])
    params = {**_jsonable(filters), "limit": limit, "matched": matched}
    job = replay_job_create(
        ids=ids,
        start_from=start_from,
        params=params,
        actor=actor,
        max_concurrency=max_concurrency,
    )
    return job, matched


def replay_job_create(
    *,
    ids: list[int],
    start_from: str,
    params: dict[str, Any],
    actor: Actor | None,
    max_concurrency: int = MAX_CONCURRENCY_DEFAULT,
) -> Job:
    """A job that replays the executions ``ids``, in that order, each from its failed step
    or from the start, at most ``max_concurrency`` at once; ``params`` says what chose them."""
    params = {**params, "from": start_from, "max_concurrency": max_concurrency}
    return job_create(kind=JobKind.BULK_REPLAY, items=ids, params=params, actor=actor)


def _jsonable(filters: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in filters.items()
        if value not in (None, "")
    }


def replay_item_start(job: Job, item: Any) -> None:
    """Start the bulk replay ``job``'s replay of execution ``item``."""
    execution = AutomationExecution.objects.filter(pk=item).first()
    if execution is None:
        raise ExecutionConflict(f"Execution {item} no longer exists.")
    from_step = None
    if job.params.get("from") == FROM_FAILED_STEP:
        from_step = first_step_not_done(execution)
    plan = replay_plan(execution=execution, from_step=from_step)
    actor = Actor(**job.created_by) if job.created_by else None
    execution_replay(plan=plan, actor=actor, job=job)
