"""Jobs that start many executions — a bulk replay, a schedule backfill — worked through in the
background, a batch at a time, so the request that asks for them answers at once.

A job holds its work list (``items``) and how far it has got (``position``). Each
``workflows.job_advance`` message starts the next batch — no more than the job's
``max_concurrency`` leaves room for, counting its executions still under way — then sends the
next message (at once while there is room, a second later while the job waits for its runs to
finish). A lost message costs nothing: the sweep re-sends it for a job that has not moved for
JOB_STALE_S. Cancelling stops the job before its next batch and cancels its runs not yet started.
An item that cannot start is counted in ``refused``, the first few with why: never silently.
"""

import logging
from collections.abc import Callable
from datetime import timedelta
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
# How many refusals a job keeps the reason of; the count covers them all.
ERRORS_KEPT = 20
# How long a job waits for room under its max_concurrency before it looks again.
WAIT_FOR_ROOM_S = 1.0

# Starts one item of a job's work list; raises ExecutionConflict or a ValidationError, saying
# why, when it cannot. Each kind has its own (workflows/tasks.py maps them).
Starter = Callable[[Job, Any], None]


def _send(job_id: int, countdown: float | None = None) -> None:
    def publish() -> None:
        try:
            current_app.send_task(JOB_TASK, args=[job_id], queue=bulk_lane(), countdown=countdown)
        except Exception:
            logger.warning("could not send job %s to the broker; the sweep will", job_id)

    transaction.on_commit(publish)


def job_create(
    *,
    kind: str,
    items: list[Any],
    params: dict[str, Any],
    actor: Actor | None,
    workflow_id: int | None = None,
) -> Job:
    """Record the job (audited) and send its first batch to a worker after commit."""
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
    cap = job.params.get("max_concurrency")
    batch = int(settings.JOB_BATCH)
    if not cap:
        return batch
    under_way = job.executions.filter(status__in=UNDER_WAY).count()
    return max(0, min(batch, int(cap) - under_way))


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
        job = Job.objects.select_for_update(skip_locked=True).filter(pk=job_id).first()
        if job is None or job.status != JobStatus.RUNNING:
            return False
        if job.cancel_requested:
            _finish(job, JobStatus.CANCELLED)
            job.save()
            _cancel_runs(job)
            return False
        room = _room(job)
        starter = starters[job.kind]
        batch = job.items[job.position : job.position + room]
        for item in batch:
            try:
                with transaction.atomic():
                    starter(job, item)
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
    if more:
        _send(job_id, countdown=None if room else WAIT_FOR_ROOM_S)
    return more


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
