"""What an alert says: the message for a delivery's payload, one event or several folded together.

A payload holds the facts of the latest event: ``event``, ``severity``, ``workflow`` ({id, name}),
``execution_id``, ``step_id``, ``step_type``, ``error``, ``execution_time_ms``, ``threshold_ms``,
``connection`` ({id, name, platform}), ``url``.
"""

from typing import Any

from core.site import absolute_url
from integrations.platforms.base import Message

# How a count of each event reads: "10 failures of workflow 'Nightly' in the last 60 s".
_PLURAL = {
    "execution.completed": "completed runs",
    "execution.failed": "failures",
    "step.failed": "step failures",
    "execution.slow": "slow runs",
    "connection.failed": "connection failures",
}
ERROR_MAX_CHARS = 1000


def execution_link(execution_id: int) -> str:
    """The dashboard page of an execution, as an absolute URL (config/site.py)."""
    return absolute_url(f"/dashboard/executions/{execution_id}/")


def workflow_link(workflow_id: int) -> str:
    return absolute_url(f"/dashboard/workflows/{workflow_id}/")


def connection_link(connection_id: int) -> str:
    return absolute_url(f"/admin/integrations/integrationconnection/{connection_id}/change/")


def message_compose(*, payload: dict[str, Any], count: int = 1, window_s: int = 0) -> Message:
    """The message for ``payload``; with ``count`` > 1 it says how many events it stands for."""
    event = payload.get("event", "")
    headline = _headline(payload)
    if count > 1:
        title = f"{count} {_PLURAL.get(event, 'events')} of {_subject(payload)}"
        title += f" in the last {window_s} s" if window_s else ""
        text = f"Latest: {_detail(payload)}"
    else:
        title, text = headline, _detail(payload)
    severity = payload.get("severity", "info")
    text = f"{text}\nSeverity: {severity}."
    data = {**payload, "count": count}
    return Message(text=text, title=title, severity=severity, url=payload.get("url", ""), data=data)


def _subject(payload: dict[str, Any]) -> str:
    connection = payload.get("connection")
    if connection:
        return f"connection '{connection.get('name')}' ({connection.get('platform')})"
    workflow = payload.get("workflow") or {}
    return f"workflow '{workflow.get('name', '?')}'"


def _headline(payload: dict[str, Any]) -> str:
    event, subject = payload.get("event", ""), _subject(payload)
    return {
        "execution.completed": f"Completed: {subject}",
        "execution.failed": f"Failed: {subject}",
        "step.failed": f"Step failed in {subject}",
        "execution.slow": f"Slow run of {subject}",
        "connection.failed": f"Verification failed: {subject}",
        "execution.missing": f"Did not happen: {subject}",
        "alert.test": "Test alert",
    }.get(event, f"{event}: {subject}")


def _detail(payload: dict[str, Any]) -> str:
    event = payload.get("event", "")
    execution = f"Execution #{payload.get('execution_id')} of {_subject(payload)}"
    step = payload.get("step_id")
    step_part = f" at step '{step}'" if step else ""
    error = str(payload.get("error") or "")[:ERROR_MAX_CHARS]
    if event == "execution.completed":
        return f"{execution} completed in {_duration(payload)}."
    if event in ("execution.failed", "step.failed"):
        return f"{execution} failed{step_part}: {error or 'no error message'}"
    if event == "execution.slow":
        limit = _duration({"execution_time_ms": payload.get("threshold_ms")})
        return f"{execution} took {_duration(payload)} (threshold {limit})."
    if event == "execution.missing":
        what = "execution" if payload.get("quiet_counts") == "execution" else "successful run"
        last = payload.get("last_at") or "never"
        minutes = payload.get("quiet_minutes")
        return f"No {what} of {_subject(payload)} in the last {minutes} min (last: {last})."
    if event == "connection.failed":
        subject = _subject(payload)
        return f"{subject[:1].upper()}{subject[1:]} failed verification: {error or 'no detail'}"
    return error or str(payload.get("text", ""))


def _duration(payload: dict[str, Any]) -> str:
    ms = payload.get("execution_time_ms")
    if ms is None:
        return "an unknown time"
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"
