"""A stateful property test of the engine (Hypothesis ``RuleBasedStateMachine``): triggers, claims
by two workers, steps that succeed, fail, fail retryably or kill their worker, approvals,
cancels, retries, lease expiry, sweeps, re-deliveries, zombies and ``max_concurrency`` — in any
order — with the invariants checked after every rule:

- a step that completed never runs again (a failed one only when its execution is retried),
  and no step's side effect completes twice;
- a finished execution has no step under way, and its active time is at most its wall time;
- every attempt that ran is in its step's history;
- a workflow's counters equal its rows;
- no more executions run at once than ``max_concurrency`` allows, leases expired or not;
- and at the end every execution finishes.
"""

import itertools
from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.factories import WorkflowFactory
from tests.workflows import scripted
from workflows.engine import CancelRequested, Runner, StaleAttempt, execution_claim
from workflows.lease import LeaseKeeper
from workflows.models import (
    FINISHED_STATUSES,
    STEP_DONE_STATUSES,
    STEP_UNDER_WAY_STATUSES,
    AutomationExecution,
    AutomationExecutionStep,
    AutomationWorkflow,
    ExecutionStatus,
    StepStatus,
)
from workflows.services.executions import (
    ExecutionConflict,
    execution_cancel,
    execution_create,
    execution_decide,
    execution_retry,
)
from workflows.services.housekeeping import execution_sweep

OUTCOMES = st.sampled_from(["ok", "ok", "retryable", "fail", "die"])
WORKERS = st.sampled_from(["w1", "w2"])
STEPS = ["a", "b"]


def editor():
    """A staff member: anyone on the staff decides an approval that names no approvers."""
    return get_user_model().objects.get_or_create(username="editor", defaults={"is_staff": True})[0]


def actions() -> list[dict]:
    retry = {"max_attempts": 3, "backoff": "fixed", "delay_s": 30}
    return [
        {"id": "a", "type": "scripted", "params": {}, "retry": retry},
        {"id": "ask", "type": "approval", "condition": "trigger.ask", "params": {}},
        {"id": "b", "type": "scripted", "params": {}, "retry": retry},
    ]


class Engine(RuleBasedStateMachine):
    @initialize(
        limit=st.sampled_from([None, 1, 2]),
        first=st.lists(st.tuples(st.booleans(), st.lists(OUTCOMES, max_size=4)), max_size=3),
    )
    def a_workflow(self, limit, first):
        self.workflow = WorkflowFactory(actions=actions(), max_concurrency=limit)
        # Workers paused mid-step (their runner, and the step they were in).
        self.zombies: list[tuple[Runner, int, dict]] = []
        self.first_run = len(scripted.RUNS)
        # The run count at which each (execution, step) was first seen done.
        self.done_after: dict[tuple[int, str], int] = {}
        for ask, outcomes in first:
            self.trigger(ask, outcomes)

    # --- helpers ---------------------------------------------------------------------------------

    def executions(self):
        return AutomationExecution.objects.filter(workflow=self.workflow)

    def pick(self, data, **filters) -> AutomationExecution | None:
        ids = list(self.executions().filter(**filters).order_by("pk").values_list("pk", flat=True))
        if not ids:
            return None
        return AutomationExecution.objects.get(pk=data.draw(st.sampled_from(ids)))

    def deliver(self, execution_id: int, worker: str) -> None:
        """A message reaches ``worker``: it claims and runs (a dying step kills it mid-run)."""
        claimed = execution_claim(execution_id=execution_id, worker=worker)
        if claimed is None:
            return
        runner = Runner(claimed)
        try:
            with LeaseKeeper(claimed.pk, claimed.attempt):
                runner.run()
        except scripted.WorkerDied:
            index = next(
                index
                for index, step in runner.progress.steps.items()
                if step.status == StepStatus.RUNNING
            )
            self.zombies.append((runner, index, claimed.definition["actions"][index]))

    # --- rules -----------------------------------------------------------------------------------

    @rule(ask=st.booleans(), outcomes=st.lists(OUTCOMES, max_size=4))
    def trigger(self, ask, outcomes):
        execution, _ = execution_create(
            workflow=self.workflow, trigger_type="manual", payload={"ask": ask}
        )
        for step_id, outcome in zip(itertools.cycle(STEPS), outcomes, strict=False):
            scripted.SCRIPT[(execution.pk, step_id)].append(outcome)

    @rule(data=st.data(), worker=WORKERS)
    def a_message_arrives(self, data, worker):
        execution = self.pick(data)
        if execution is not None:
            self.deliver(execution.pk, worker)

    @rule(data=st.data())
    def time_passes_for_retries_and_leases(self, data):
        past = timezone.now() - timedelta(seconds=1)
        self.executions().filter(status="queued", next_attempt_at__isnull=False).update(
            next_attempt_at=past
        )
        self.executions().filter(status="running").update(lease_expires_at=past)

    @rule(worker=WORKERS)
    def the_sweep_runs_and_its_messages_arrive(self, worker):
        execution_sweep()
        for execution_id in (
            self.executions().exclude(status__in=FINISHED_STATUSES).values_list("pk", flat=True)
        ):
            self.deliver(execution_id, worker)

    @rule(data=st.data())
    def somebody_cancels(self, data):
        execution = self.pick(data)
        if execution is not None:
            try:
                execution_cancel(execution=execution)
            except ExecutionConflict:
                assert execution.status in FINISHED_STATUSES

    @rule(data=st.data(), approved=st.booleans())
    def somebody_decides(self, data, approved):
        execution = self.pick(data, status=ExecutionStatus.WAITING)
        if execution is not None:
            execution_decide(execution=execution, approved=approved, user=editor())

    @rule(data=st.data())
    def somebody_retries_a_failed_one(self, data):
        execution = self.pick(data, status=ExecutionStatus.FAILED)
        if execution is not None:
            execution_retry(execution=execution)

    @precondition(lambda self: bool(getattr(self, "zombies", None)))
    @rule()
    def a_paused_worker_wakes_up(self):
        """It finishes the step it was in and tries to record it: refused once another attempt
        took the execution over; else recorded (and it pauses again for good)."""
        runner, index, action = self.zombies.pop(0)
        execution = AutomationExecution.objects.get(pk=runner.execution.pk)
        superseded = execution.attempt != runner.execution.attempt
        try:
            runner.progress.done(index, action, StepStatus.COMPLETED, {"late": True})
        except StaleAttempt:
            assert superseded
            return
        except CancelRequested:
            pass
        assert not superseded

    # --- invariants ------------------------------------------------------------------------------

    @invariant()
    def a_finished_step_never_runs_again(self):
        runs = scripted.RUNS
        # Completed or skipped: never again (a failed step runs again only when somebody
        # retries its execution).
        for execution_id, step_id in AutomationExecutionStep.objects.filter(
            execution__workflow=self.workflow,
            status__in=[StepStatus.COMPLETED, StepStatus.SKIPPED],
            step_type="scripted",
        ).values_list("execution_id", "step_id"):
            seen = self.done_after.setdefault((execution_id, step_id), len(runs))
            later = [run for run in runs[seen:] if run[:2] == (execution_id, step_id)]
            assert later == [], later
        done = Counter(run[:2] for run in runs[self.first_run :] if run[2] == "ok")
        assert max(done.values(), default=0) <= 1, done

    @invariant()
    def a_finished_execution_has_no_step_under_way_and_adds_up(self):
        for execution in self.executions().filter(status__in=FINISHED_STATUSES):
            under_way = execution.steps.filter(status__in=STEP_UNDER_WAY_STATUSES)
            assert not under_way.exists(), (execution.status, list(under_way.values()))
            if execution.wall_time_ms is not None:
                assert (execution.execution_time_ms or 0) <= execution.wall_time_ms + 5

    @invariant()
    def every_attempt_that_ran_is_in_the_history(self):
        for execution in self.executions():
            for step in execution.steps.filter(status__in=STEP_DONE_STATUSES):
                if step.step_type == "scripted" and step.attempts:
                    assert len(step.attempt_history) == step.attempts, step.attempt_history

    @invariant()
    def counters_equal_the_rows(self):
        workflow = AutomationWorkflow.objects.get(pk=self.workflow.pk)
        rows = self.executions()
        completed = rows.filter(status=ExecutionStatus.COMPLETED).count()
        failed = rows.filter(status=ExecutionStatus.FAILED).count()
        assert (workflow.success_count, workflow.failure_count) == (completed, failed)
        assert workflow.run_count == completed + failed

    @invariant()
    def no_more_run_at_once_than_the_limit(self):
        limit = self.workflow.max_concurrency
        if limit is not None:
            assert self.executions().filter(status=ExecutionStatus.RUNNING).count() <= limit

    def teardown(self):
        """Every execution ends: with time passing, sweeps and decisions, all of them finish.
        Under ``max_concurrency`` 1 forty executions take many rounds, so the bound is on rounds
        that change nothing, not on rounds."""
        if not hasattr(self, "workflow"):
            return
        still = 0
        seen = None
        for _ in range(MAX_ROUNDS):
            if still == STALLED_ROUNDS:
                break
            unfinished = self.executions().exclude(status__in=FINISHED_STATUSES)
            if not unfinished.exists():
                return
            self.time_passes_for_retries_and_leases(None)
            for execution in unfinished.filter(status=ExecutionStatus.WAITING):
                execution_decide(execution=execution, approved=True, user=editor())
            self.the_sweep_runs_and_its_messages_arrive("w1")
            state = list(
                self.executions()
                .order_by("pk", "steps__step_index")
                .values_list("pk", "status", "attempt", "steps__attempts")
            )
            still = still + 1 if state == seen else 0
            seen = state
        raise AssertionError(f"never finished: {list(unfinished.values('pk', 'status'))}")


# Rounds of time passing, sweeps and decisions in a row that change nothing: stuck for good.
STALLED_ROUNDS = 10
MAX_ROUNDS = 2000


@pytest.mark.django_db
def test_the_engine_keeps_its_invariants_whatever_happens_in_whatever_order(settings_fixture):
    run_state_machine_as_test(
        Engine,
        settings=settings(
            max_examples=50,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


@pytest.fixture
def settings_fixture(settings):
    settings.ACTION_TYPES_EXTRA = {"scripted": "tests.workflows.scripted.ScriptedAction"}
    settings.EXECUTION_LEASE_S = 30
    settings.EXECUTION_REQUEUE_AFTER_S = 0
    settings.EXECUTION_MAX_DELIVERIES = 50
    return settings
