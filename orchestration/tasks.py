"""Celery tasks of the orchestration app: thin wrappers that take ids and call one service."""

from celery import shared_task

from orchestration.services import RUN_TASK, orchestration_run_execute, orchestration_run_sweep


@shared_task(name=RUN_TASK, acks_late=True, ignore_result=True)
def run_orchestration(run_id: int) -> None:
    """Run a queued run; a run already taken or finished is left alone (idempotent)."""
    orchestration_run_execute(run_id=run_id)


@shared_task(name="orchestration.sweep", ignore_result=True)
def sweep() -> int:
    return orchestration_run_sweep()
