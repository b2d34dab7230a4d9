"""Writes on orchestrations and their runs: create, update, delete, queue a run, run it, sweep.

A run is queued in the database and a worker is woken after commit; the worker claims it (one
conditional UPDATE, queued → running), runs the pattern, saves each finished call as it goes and
finishes it with the orchestration's counters in one transaction. A run is claimed at most once,
so its calls are never sent twice by this system; the sweep re-sends lost messages and fails runs
whose worker died.
"""

import logging
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from integrations.models import IntegrationConnection
from integrations.ratelimits.throttle import connection_throttle
from integrations.selectors import connection_get_active
from integrations.services import ConnectionAuthError, connection_auth_headers
from orchestration.models import APIOrchestration, OrchestrationRun, RunStatus
from orchestration.patterns import pattern_get
from orchestration.patterns.base import Plan, RunState
from orchestration.patterns.calls import FAILED, Access, CallError
from orchestration.patterns.scheduler import plan_run
from workflows.dispatch import Dispatcher, dispatch_mark
from workflows.services.audit import Actor, audit_record

logger = logging.getLogger(__name__)

RUN_TASK = "orchestration.run"
EDITABLE_FIELDS = (
    "name",
    "description",
    "type",
    "api_calls",
    "dependencies",
    "retry_strategy",
    "is_active",
)
DEFINITION_FIELDS = ("type", "api_calls", "dependencies", "retry_strategy")
SWEEP_BATCH = 500


class OrchestrationInactive(Exception):
    """The orchestration is switched off; nothing runs until it is switched on again."""


def _audit(
    actor: Actor | None, action: str, orchestration: APIOrchestration, changed: list[str]
) -> None:
    detail: dict[str, Any] = {"name": orchestration.name}
    if changed:
        detail["changed"] = changed
    audit_record(
        actor=actor,
        action=action,
        object_type="orchestration",
        object_id=orchestration.pk,
        detail=detail,
    )


def orchestration_create(
    *,
    data: Mapping[str, Any],
    user: AbstractBaseUser | AnonymousUser | None = None,
    actor: Actor | None = None,
) -> APIOrchestration:
    """Create an orchestration from validated data (see ``orchestration.validation``); the
    ``actor`` is audited."""
    orchestration = APIOrchestration(**{key: data[key] for key in EDITABLE_FIELDS if key in data})
    if user is not None and user.is_authenticated:
        orchestration.created_by_id = user.pk
    with transaction.atomic():
        orchestration.save()
        _audit(actor, "created", orchestration, [])
    return orchestration


def orchestration_update(
    *, orchestration: APIOrchestration, data: Mapping[str, Any], actor: Actor | None = None
) -> APIOrchestration:
    """Apply the given validated fields; queued runs keep the definition they were queued with.
    The ``actor`` is audited with the names of the fields changed."""
    given = [key for key in EDITABLE_FIELDS if key in data]
    changed = [key for key in given if getattr(orchestration, key) != data[key]]
    for key in given:
        setattr(orchestration, key, data[key])
    with transaction.atomic():
        orchestration.save(update_fields=[*given, "updated_at"])
        if changed:
            _audit(actor, "edited", orchestration, changed)
    return orchestration


def orchestration_delete(*, orchestration: APIOrchestration, actor: Actor | None = None) -> None:
    """Delete the orchestration and its runs; the ``actor`` is audited."""
    with transaction.atomic():
        _audit(actor, "deleted", orchestration, [])
        orchestration.delete()


def _lost(now: datetime) -> Q:
    return Q(status=RunStatus.QUEUED)


RUNS = Dispatcher(task=RUN_TASK, model=OrchestrationRun, lost=_lost, lock_key=0x5717EEB)


def orchestration_run_create(
    *, orchestration: APIOrchestration, input: Any, dispatch: bool = True
) -> OrchestrationRun:
    """Queue a run of the orchestration's current definition with ``input``.

    With ``dispatch`` a worker is woken once the transaction commits; without, the caller runs it
    (``orchestration_run_execute``). Raises OrchestrationInactive when it is switched off.
    """
    if not orchestration.is_active:
        raise OrchestrationInactive(f"Orchestration {orchestration.pk} is inactive.")
    marked = dispatch_mark(timezone.now())
    with transaction.atomic():
        run = OrchestrationRun.objects.create(
            orchestration=orchestration,
            input=input if input is not None else {},
            definition={key: getattr(orchestration, key) for key in DEFINITION_FIELDS},
            dispatched_at=marked if dispatch else None,
        )
        if dispatch:
            RUNS.send(run.pk, marked=marked)
    return run


def orchestration_run_execute(*, run_id: int) -> OrchestrationRun | None:
    """Claim a queued run and run it to its end; returns the finished run.

    Returns None when the run is not queued (already taken, finished, or gone): a repeated
    message never runs a run twice.
    """
    now = timezone.now()
    claimed = OrchestrationRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=now
    )
    if not claimed:
        logger.info("orchestration run %s is not queued; nothing to do", run_id)
        return None
    run = OrchestrationRun.objects.get(pk=run_id)
    started = time.monotonic()
    definition = run.definition

    try:
        state = plan_run(
            pattern_get(definition["type"]),
            Plan.from_definition(definition),
            input=run.input,
            key_prefix=str(run.pk),
            access=_ConnectionAccess(),
            on_progress=partial(_run_progress_save, run.pk),
        )
    except Exception as exc:
        # A bug, not a failing call: the run must still end, or it would stay running.
        logger.exception("orchestration run %s crashed", run.pk)
        fields = {"status": RunStatus.FAILED, "error": f"Internal error: {type(exc).__name__}"}
    else:
        fields = _outcome_fields(run, state)
    _run_finish(run, fields, int((time.monotonic() - started) * 1000))
    run.refresh_from_db()
    return run


class _ConnectionAccess:
    """A call's auth headers from its ``connection`` and the wait for its rate limit, each
    connection read once per run.

    Raises CallError (the call fails, nothing is sent) when the connection is gone, inactive or
    holds no HTTP credentials. The headers are sent, never recorded.
    """

    def __init__(self) -> None:
        self.cache: dict[int, Access] = {}

    def __call__(self, call: Mapping[str, Any]) -> Access:
        connection_id = call.get("connection")
        if not connection_id:
            return Access()
        if connection_id not in self.cache:
            connection = connection_get_active(connection_id=connection_id)
            if connection is None:
                raise CallError(f"connection {connection_id} does not exist or is inactive")
            try:
                headers = connection_auth_headers(connection)
            except ConnectionAuthError as exc:
                raise CallError(str(exc)) from None
            self.cache[connection_id] = Access(headers, partial(_throttle, connection))
        return self.cache[connection_id]


def _throttle(connection: IntegrationConnection, timeout_s: float) -> None:
    """Wait for a slot of the connection's rate limit, on a pool thread: its database
    connection, if the limiter used one, is closed before the thread goes back to the pool."""
    try:
        connection_throttle(connection, timeout_s=timeout_s)
    finally:
        db_connection.close()


def _records(state: RunState) -> dict[str, Any]:
    return {call_id: outcome.record() for call_id, outcome in state.outcomes.items()}


def _run_progress_save(run_id: int, state: RunState) -> None:
    OrchestrationRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
        calls=_records(state)
    )


def _outcome_fields(run: OrchestrationRun, state: RunState) -> dict[str, Any]:
    """Status, calls, result or error of a run whose calls are all done."""
    fields: dict[str, Any] = {"calls": _records(state)}
    failed = next((i for i, o in state.outcomes.items() if o.status == FAILED), None)
    if failed is not None:
        outcome = state.outcomes[failed]
        fields.update(
            status=RunStatus.FAILED,
            error=f"Call '{failed}' failed: {outcome.error}",
            retryable=outcome.retryable,
        )
    else:
        fields.update(
            status=RunStatus.SUCCEEDED, result=pattern_get(run.definition["type"]).result(state)
        )
    return fields


def _run_finish(run: OrchestrationRun, fields: dict[str, Any], duration_ms: int) -> None:
    now = timezone.now()
    with transaction.atomic():
        # Conditional on still running: a run the sweep already failed keeps that verdict.
        if OrchestrationRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
            **fields, completed_at=now, duration_ms=duration_ms
        ):
            succeeded = fields["status"] == RunStatus.SUCCEEDED
            _counters_update(run.orchestration_id, succeeded=succeeded, ms=duration_ms, now=now)


def _counters_update(orchestration_id: int, *, succeeded: bool, ms: int, now: datetime) -> None:
    """Move the counters and the running average in one atomic UPDATE."""
    finished = F("success_count") + F("failure_count")
    APIOrchestration.objects.filter(pk=orchestration_id).update(
        success_count=F("success_count") + int(succeeded),
        failure_count=F("failure_count") + int(not succeeded),
        avg_duration_ms=(F("avg_duration_ms") * finished + ms) / (finished + 1),
        last_run_at=now,
    )


def orchestration_run_sweep(*, now: datetime | None = None) -> int:
    """Re-send runs whose message was lost (workflows/dispatch.py says which count as lost);
    fail runs whose worker died. Returns how many moved."""
    now = now or timezone.now()
    with transaction.atomic():
        failed = _dead_runs_fail(now)
    return RUNS.sweep(now=now) + failed


def _dead_runs_fail(now: datetime) -> int:
    """A run still running past the task time limit has no live worker: Celery killed it.

    It fails rather than runs again, since some of its calls may have been sent.
    """
    dead_before = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    dead = list(
        OrchestrationRun.objects.select_for_update(skip_locked=True)
        .filter(status=RunStatus.RUNNING, started_at__lt=dead_before)
        .only("pk", "orchestration_id", "started_at")[:SWEEP_BATCH]
    )
    for run in dead:
        assert run.started_at is not None
        duration_ms = int((now - run.started_at).total_seconds() * 1000)
        OrchestrationRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED,
            completed_at=now,
            duration_ms=duration_ms,
            retryable=True,
            error="The worker running this orchestration stopped before it finished; "
            "some calls may have been sent. Run it again.",
        )
        _counters_update(run.orchestration_id, succeeded=False, ms=duration_ms, now=now)
    return len(dead)
