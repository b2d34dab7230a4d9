"""The alerts app's receivers of kernel and integrations events (subscribed in AppConfig.ready).

Each only records deliveries and wakes workers after commit: nothing is sent here, so an alert
can never slow down, fail or otherwise change the execution that caused it.
"""

from typing import Any

from alerts.models import AlertEvent
from alerts.selectors import alerts_listening
from alerts.services.firing import (
    alerts_fire_for_connection,
    alerts_fire_for_execution,
    alerts_fire_for_step,
    execution_events,
)


def hears_execution_finished(*, workflow_id: int, status: str, **_: Any) -> bool:
    """Whether an alert could fire for this finish (one read, in the finishing transaction)."""
    heard = execution_events(status)
    return bool(heard) and bool(alerts_listening(workflow_id=workflow_id, events=heard))


def hears_step_failed(*, workflow_id: int, **_: Any) -> bool:
    return bool(alerts_listening(workflow_id=workflow_id, events=[AlertEvent.STEP_FAILED]))


def on_execution_finished(
    *,
    execution_id: int,
    workflow_id: int,
    status: str,
    error: str = "",
    execution_time_ms: int = 0,
    **_: Any,
) -> None:
    alerts_fire_for_execution(
        execution_id=execution_id,
        workflow_id=workflow_id,
        status=status,
        error=error,
        execution_time_ms=execution_time_ms or 0,
    )


def on_step_failed(
    *,
    execution_id: int,
    workflow_id: int,
    step_id: str,
    step_type: str = "",
    error: str = "",
    **_: Any,
) -> None:
    alerts_fire_for_step(
        execution_id=execution_id,
        workflow_id=workflow_id,
        step_id=step_id,
        step_type=step_type,
        error=error,
    )


def on_connection_failed(
    *, connection_id: int, platform: str = "", detail: str = "", **_: Any
) -> None:
    alerts_fire_for_connection(connection_id=connection_id, platform=platform, detail=detail)
