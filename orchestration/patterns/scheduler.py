"""The one dependency-graph scheduler every pattern runs on.

A call is *ready* once every call it depends on is done. Ready calls start in list order while the
pattern's pool has room, so with a pool of one the order is the dependency order with list order
for ties, and with a larger pool everything ready runs at once. A call whose dependency did not
succeed is skipped. After the first failure nothing new starts: calls already in flight finish and
are recorded, the rest are recorded as skipped.
"""

from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from orchestration.patterns.base import Pattern, Plan, RunState
from orchestration.patterns.calls import (
    FAILED,
    SKIPPED,
    SUCCEEDED,
    Access,
    CallError,
    CallOutcome,
    call_prepare,
    call_send,
)
from workflows.templating import TemplateError

Progress = Callable[[RunState], None]
CallAccess = Callable[[Mapping[str, Any]], Access]


def _no_auth(call: Mapping[str, Any]) -> Access:
    return Access()


def plan_run(
    pattern: Pattern,
    plan: Plan,
    *,
    input: Any,
    key_prefix: str,
    access: CallAccess = _no_auth,
    on_progress: Progress | None = None,
) -> RunState:
    """Run every call of ``plan`` under ``pattern``; returns the state with every call's outcome.

    Each request carries ``Idempotency-Key: <key_prefix>-<call id>``. ``access`` gives a call's
    connection headers and rate-limit wait (read on this thread); ``on_progress`` hears of each
    finished call.
    Never raises for a failing call: failures are outcomes.
    """
    state = RunState(input=input)
    return _Scheduler(pattern, plan, state, key_prefix, access, on_progress).run()


@dataclass
class _Scheduler:
    pattern: Pattern
    plan: Plan
    state: RunState
    key_prefix: str
    access: CallAccess
    on_progress: Progress | None = None
    pending: list[str] = field(default_factory=list)
    in_flight: dict[Future[CallOutcome], str] = field(default_factory=dict)
    failed_call: str = ""

    def run(self) -> RunState:
        self.pending = [call["id"] for call in self.plan.calls]
        size = self.pattern.pool_size()
        with ThreadPoolExecutor(max_workers=size, thread_name_prefix="orchestration") as pool:
            while True:
                if not self.failed_call:
                    self._start_ready(pool, size)
                if not self.in_flight:
                    break
                finished, _ = wait(self.in_flight, return_when=FIRST_COMPLETED)
                for future in sorted(finished, key=lambda f: self._position(self.in_flight[f])):
                    self._record(self.in_flight.pop(future), future.result())
        reason = (
            f"not run: call '{self.failed_call}' failed"
            if self.failed_call
            else "not run: its dependencies never finished (a cycle or an unknown call)"
        )
        for call_id in self.pending:
            self._record(call_id, CallOutcome(SKIPPED, error=reason))
        return self.state

    def _position(self, call_id: str) -> int:
        return next(i for i, call in enumerate(self.plan.calls) if call["id"] == call_id)

    def _start_ready(self, pool: ThreadPoolExecutor, size: int) -> None:
        """Start ready calls in list order until the pool is full or nothing else is ready.

        The scan restarts after every start, since a skip can make an earlier call ready.
        """
        while not self.failed_call and len(self.in_flight) < size:
            ready = next((c for c in self.pending if self._dependencies_done(c)), None)
            if ready is None:
                return
            self.pending.remove(ready)
            self._start(pool, ready)

    def _dependencies_done(self, call_id: str) -> bool:
        return all(dep in self.state.outcomes for dep in self.plan.dependencies.get(call_id, ()))

    def _start(self, pool: ThreadPoolExecutor, call_id: str) -> None:
        call = self.plan.call(call_id)
        for dep in self.plan.dependencies.get(call_id, ()):
            if self.state.outcomes[dep].status != SUCCEEDED:
                status = self.state.outcomes[dep].status
                reason = f"skipped: depends on call '{dep}', which was {status}"
                self._record(call_id, CallOutcome(SKIPPED, error=reason))
                return
        try:
            reason = self.pattern.skip_reason(call, self.state)
            if reason:
                self._record(call_id, CallOutcome(SKIPPED, error=reason))
                return
            context = self.pattern.template_context(self.state)
            prepared = call_prepare(call, context, self.access(call))
        except (TemplateError, CallError) as exc:
            self._record(call_id, CallOutcome(FAILED, error=str(exc)))
            return
        key = f"{self.key_prefix}-{call_id}"
        future = pool.submit(call_send, prepared, self.plan.retry, idempotency_key=key)
        self.in_flight[future] = call_id

    def _record(self, call_id: str, outcome: CallOutcome) -> None:
        self.state.outcomes[call_id] = outcome
        if outcome.status == FAILED and not self.failed_call:
            self.failed_call = call_id
        if self.on_progress is not None:
            self.on_progress(self.state)
