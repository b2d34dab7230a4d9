"""Celery tasks of the kernel: thin wrappers that take ids and call one service."""

import os
import socket

from celery import shared_task

from workflows.engine import execution_run
from workflows.events import events_sweep
from workflows.models import JobKind
from workflows.services.backfill import backfill_item_start
from workflows.services.dispatch import RUN_EXECUTION_TASK
from workflows.services.housekeeping import execution_prune, execution_sweep
from workflows.services.jobs import JOB_TASK, Starter, job_advance, jobs_sweep
from workflows.services.replay import replay_item_start
from workflows.services.schedules import FIRE_TASK, schedule_fire


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@shared_task(name=RUN_EXECUTION_TASK, acks_late=True, ignore_result=True)
def run_execution(execution_id: int) -> None:
    execution_run(execution_id=execution_id, worker=_worker_name())


@shared_task(name="workflows.sweep", ignore_result=True)
def sweep() -> int:
    events_sweep()
    jobs_sweep()
    return execution_sweep()


JOB_STARTERS: dict[str, Starter] = {
    JobKind.BULK_REPLAY: replay_item_start,
    JobKind.BACKFILL: backfill_item_start,
}


@shared_task(name=JOB_TASK, ignore_result=True)
def advance_job(job_id: int) -> None:
    job_advance(job_id=job_id, starters=JOB_STARTERS)


@shared_task(name=FIRE_TASK, ignore_result=True)
def fire_schedule(workflow_id: int) -> None:
    schedule_fire(workflow_id=workflow_id)


@shared_task(name="workflows.prune", ignore_result=True)
def prune() -> int:
    return execution_prune()
