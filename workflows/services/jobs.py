"""Jobs that start many executions — a bulk replay, a schedule backfill — worked through in the
background, a batch at a time, so the request that asks for them answers at once.

A job holds its work list (``items``) and how far it has got (``position``). Each
``workflows.job_advance`` message starts the next batch — no more than the job's
``max_concurrency`` leaves room for, counting its executions still under way, and no more than
JOB_BATCH. Each of its runs sends the job a message when it finishes (``job_wake``, from the
engine's finish), so the job moves as its runs make room, with no polling. A lost message costs
nothing: the sweep re-sends it for a job that has not moved for JOB_STALE_S. Cancelling stops
the job before its next batch and cancels its runs not yet started. An item that cannot start
is counted in ``refused``, the first few with why: never silently.
"""

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from rest_framework import serializers

from workflows.broker import bulk_lane
from workflows.models import ExecutionStatus, Job, JobStatus
from workflows.services.audit import Actor, audit_record
from workflows.services.executions import ExecutionConflict, execution_cancel
from workflows.services.overlap import OverlapSkipped

logger = logging.getLogger(__name__)

JOB_TASK = "workflows.job_advance"
UNDER_WAY = (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING, ExecutionStatus.WAITING)
# A job's runs under way at once, unless it says otherwise, and the most it may say.
MAX_CONCURRENCY_DEFAULT = 4
MAX_CONCURRENCY_MAX = 100
# How many refusals a job keeps the reason of; the count covers them all.
ERRORS_KEPT = 20

# Starts one item of a job's work list; raises ExecutionConflict or a ValidationError, saying
# why, when it cannot. Each kind has its own (workflows/tasks.py maps them).
Starter = Callable[[Job, Any], None]


def _send(job_id: int) -> None:
    """Send the job a ``workflows.job_advance`` message once the current transaction commits."""
    transaction.on_commit(partial(job_publish, job_id))


def job_publish(job_id: int) -> None:
    try:
        current_app.send_task(JOB_TASK, args=[job_id], queue=bulk_lane())
    except Exception:
        logger.warning("could not send job %s to the broker; the sweep will", job_id)


def job_create(
    *,
    kind: str,
    items: list[Any],
    params: dict[str, Any],
    actor: Actor | None,
    workflow_id: int | None = None,
) -> Job:
    """Record the job (audited) and send its first batch to a worker after commit. ``params``
    says what was asked, and holds the job's ``max_concurrency``."""
    with transaction.atomic():
        job = Job.objects.create(
            kind=kind,
            workflow_id=workflow_id,
            params=params,
            items=items,
            total=len(items),
            created_by=actor.as_dict() if actor else {},
        )
        audit_record(
            actor=actor,
            action="started",
            object_type="job",
            object_id=job.pk,
            detail={"kind": kind, "total": job.total, **params},
        )
        _send(job.pk)
    return job


def _room(job: Job) -> int:
    under_way = job.executions.filter(status__in=UNDER_WAY).count()
    return max(0, min(int(settings.JOB_BATCH), int(job.params["max_concurrency"]) - under_way))


def _finish(job: Job, status: str) -> None:
    job.status = status
    job.finished_at = timezone.now()


def _cancel_runs(job: Job) -> None:
    """Cancel the job's executions that have not started yet."""
    for execution in job.executions.filter(status=ExecutionStatus.QUEUED):
        try:
            execution_cancel(execution=execution)
        except ExecutionConflict:
            continue  # it started or finished meanwhile


def job_advance(*, job_id: int, starters: dict[str, Starter]) -> bool:
    """Start the job's next batch with the starter of its kind. Returns True while there is
    more to do."""
    with transaction.atomic():
        # Waits for another advance of the same job: a wake must see the room it was sent for.
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != JobStatus.RUNNING:
            return False
        if job.cancel_requested:
            _finish(job, JobStatus.CANCELLED)
            job.save()
            _cancel_runs(job)
            return False
        batch = job.items[job.position : job.position + _room(job)]
        refused = job.refused
        for item in batch:
            try:
                with transaction.atomic():
                    starters[job.kind](job, item)
                job.started += 1
            except (ExecutionConflict, OverlapSkipped, serializers.ValidationError) as exc:
                job.refused += 1
                if len(job.errors) < ERRORS_KEPT:
                    job.errors.append({"item": item, "error": _reason(exc)})
        job.position += len(batch)
        more = job.position < job.total
        if not more:
            _finish(job, JobStatus.COMPLETED)
        job.save()
        # The runs it started wake it when they finish. It goes on at once only when no run
        # of this batch will: the batch was a whole JOB_BATCH, or items were refused.
        if more and batch and (len(batch) == settings.JOB_BATCH or job.refused > refused):
            _send(job_id)
    return more


def job_wake(*, job_id: int) -> None:
    """One of the job's runs finished (called in the transaction that finishes it): the job
    has room for another, so its next batch may start."""
    _send(job_id)


def _reason(exc: Exception) -> str:
    if isinstance(exc, serializers.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            return "; ".join(f"{key}: {' '.join(map(str, msgs))}" for key, msgs in detail.items())
        return " ".join(map(str, detail))
    return str(exc)


def job_cancel(*, job: Job, actor: Actor | None = None) -> Job:
    """Ask the job to stop before its next batch (audited); its runs not started are cancelled
    then. Raises ExecutionConflict when it already finished."""
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.status != JobStatus.RUNNING:
            raise ExecutionConflict(f"Job {locked.pk} is {locked.status}: nothing to cancel.")
        locked.cancel_requested = True
        locked.save(update_fields=["cancel_requested", "updated_at"])
        audit_record(actor=actor, action="cancelled", object_type="job", object_id=locked.pk)
        _send(locked.pk)
    return locked


def jobs_sweep() -> int:
    """Re-send the running jobs that have not moved for JOB_STALE_S (their message was lost)."""
    stale = timezone.now() - timedelta(seconds=settings.JOB_STALE_S)
    ids = list(
        Job.objects.filter(status=JobStatus.RUNNING, updated_at__lt=stale).values_list(
            "pk", flat=True
        )[:100]
    )
    with transaction.atomic():
        for job_id in ids:
            _send(job_id)
    return len(ids)


def job_progress(job: Job) -> dict[str, Any]:
    """How far the job has got, and how its runs are doing."""
    counts = dict.fromkeys(ExecutionStatus.values, 0)
    rows = job.executions.values("status").annotate(n=Count("pk")).values_list("status", "n")
    for status, count in rows:
        counts[status] = count
    return {
        "processed": job.position,
        "started": job.started,
        "refused": job.refused,
        "executions": counts,
    }
