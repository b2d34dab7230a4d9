"""Celery tasks of the kernel: thin wrappers that take ids and call one service."""

import os
import socket

from celery import shared_task

from workflows.engine import execution_run
from workflows.services.dispatch import RUN_EXECUTION_TASK
from workflows.services.executions import execution_sweep


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@shared_task(name=RUN_EXECUTION_TASK, acks_late=True, ignore_result=True)
def run_execution(execution_id: int) -> None:
    execution_run(execution_id=execution_id, worker=_worker_name())


@shared_task(name="workflows.sweep", ignore_result=True)
def sweep() -> int:
    return execution_sweep()
