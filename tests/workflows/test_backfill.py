"""Backfill (SPEC §11): a schedule's past slots run as a job — each slot once, oldest first, at
most max_concurrency at a time, cancellable, marked as backfilled, and behind live work."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tests.factories import WorkflowFactory
from workflows.engine import execution_run
from workflows.models import AutomationExecution, Job
from workflows.services.executions import execution_create
from workflows.services.jobs import job_advance
from workflows.tasks import JOB_STARTERS

pytestmark = pytest.mark.django_db

BASE = "/api/workflow-orchestration"


def hour(delta_hours: int) -> datetime:
    """A whole hour ``delta_hours`` from the current one (negative: past)."""
    now = timezone.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return now + timedelta(hours=delta_hours)


def hourly(**fields) -> object:
    return WorkflowFactory(trigger={"type": "schedule"}, schedule="0 * * * *", **fields)


def backfill(api, workflow, start, end, more=None, **fields):
    body = {"start": start.isoformat(), "end": end.isoformat(), **fields} | (more or {})
    return api.post(f"{BASE}/workflows/{workflow.pk}/backfill", body, format="json")


def advance_all(job_id: int) -> Job:
    while job_advance(job_id=job_id, starters=JOB_STARTERS):
        for execution in AutomationExecution.objects.filter(job_id=job_id, status="queued"):
            execution_run(execution_id=execution.pk, worker="test")
    return Job.objects.get(pk=job_id)


def test_each_missing_slot_runs_once_oldest_first_marked_as_backfilled(api):
    workflow = hourly()
    live, _ = execution_create(workflow=workflow, trigger_type="schedule", scheduled_for=hour(-3))
    response = backfill(api, workflow, hour(-5), hour(-1), max_concurrency=10)
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["slots"], body["already_run"], body["total"]) == (5, 1, 4)
    job = advance_all(body["job_id"])
    assert (job.status, job.started, job.refused) == ("completed", 4, 0)
    runs = list(job.executions.order_by("pk"))
    assert [run.scheduled_for for run in runs] == [hour(-5), hour(-4), hour(-2), hour(-1)]
    assert {run.trigger_type for run in runs} == {"schedule"}
    assert all(run.trigger_payload["backfill"] is True for run in runs)
    assert runs[0].trigger_payload["scheduled_for"] == hour(-5).isoformat()
    assert runs[0].triggered_by["name"].startswith("backfill by token")
    assert live.trigger_payload.get("backfill") is None
    # A second backfill of the same range finds nothing left to run.
    again = backfill(api, workflow, hour(-5), hour(-1)).json()
    assert (again["slots"], again["already_run"], again["total"]) == (5, 5, 0)


def test_no_more_than_max_concurrency_runs_are_under_way_at_once(api):
    workflow = hourly()
    job_id = backfill(api, workflow, hour(-6), hour(-1), max_concurrency=2).json()["job_id"]
    assert job_advance(job_id=job_id, starters=JOB_STARTERS) is True
    assert AutomationExecution.objects.filter(job_id=job_id).count() == 2
    # Nothing finished: no room, nothing more starts.
    assert job_advance(job_id=job_id, starters=JOB_STARTERS) is True
    assert AutomationExecution.objects.filter(job_id=job_id).count() == 2
    first = AutomationExecution.objects.filter(job_id=job_id).order_by("pk").first()
    execution_run(execution_id=first.pk, worker="test")
    job_advance(job_id=job_id, starters=JOB_STARTERS)
    assert AutomationExecution.objects.filter(job_id=job_id).count() == 3
    assert advance_all(job_id).started == 6


def test_an_interval_schedule_backfills_its_own_slots(api):
    anchor = hour(-10)
    trigger = {"type": "schedule", "interval_s": 1800, "start_at": anchor.isoformat()}
    workflow = WorkflowFactory(trigger=trigger, schedule="")
    body = backfill(api, workflow, hour(-2), hour(-1), max_concurrency=5).json()
    job = advance_all(body["job_id"])
    assert [run.scheduled_for for run in job.executions.order_by("pk")] == [
        hour(-2),
        hour(-2) + timedelta(minutes=30),
        hour(-1),
    ]


def test_cancel_stops_the_backfill_and_its_runs_not_started(api):
    workflow = hourly()
    job_id = backfill(api, workflow, hour(-6), hour(-1), max_concurrency=2).json()["job_id"]
    job_advance(job_id=job_id, starters=JOB_STARTERS)
    assert api.post(f"{BASE}/jobs/{job_id}/cancel").status_code == 202
    job = advance_all(job_id)
    assert (job.status, job.started) == ("cancelled", 2)
    assert set(job.executions.values_list("status", flat=True)) == {"cancelled"}


def test_backfilled_runs_go_behind_live_work_not_on_the_schedules_lane(
    api, django_capture_on_commit_callbacks
):
    workflow = hourly()
    job_id = backfill(api, workflow, hour(-2), hour(-1)).json()["job_id"]
    with django_capture_on_commit_callbacks() as sent:
        job_advance(job_id=job_id, starters=JOB_STARTERS)
    lanes = [callback.args[3] for callback in sent if getattr(callback, "args", None)]
    assert lanes == [False, False]  # control=False: the ordinary lane
    with django_capture_on_commit_callbacks() as live:
        execution_create(workflow=workflow, trigger_type="schedule", scheduled_for=hour(0))
    assert [callback.args[3] for callback in live] == [True]


def test_a_backfill_is_not_governed_by_the_live_overlap_policy(api):
    workflow = hourly(overlap_policy="skip")
    job_id = backfill(api, workflow, hour(-3), hour(-1), max_concurrency=3).json()["job_id"]
    job_advance(job_id=job_id, starters=JOB_STARTERS)
    assert AutomationExecution.objects.filter(job_id=job_id).count() == 3


@pytest.mark.parametrize(
    ("start", "end", "more", "field"),
    [
        (-1, -2, {}, "end"),
        (-1, 2, {}, "end"),
        (-2, -1, {"max_concurrency": 0}, "max_concurrency"),
        (-2, -1, {"maxConcurrency": 2}, "maxConcurrency"),
        (-2, -1, {"start": "last week"}, "start"),
    ],
)
def test_a_bad_range_is_a_400_naming_the_field(api, start, end, more, field):
    response = backfill(api, hourly(), hour(start), hour(end), more=more)
    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert Job.objects.count() == 0


def test_a_range_longer_than_the_cap_is_refused(api, settings):
    settings.JOB_MAX_ITEMS = 3
    response = backfill(api, hourly(), hour(-5), hour(-1))
    assert response.status_code == 400
    assert "more than 3 slots" in response.json()["end"][0]


def test_a_workflow_without_a_schedule_is_a_409(api):
    response = backfill(api, WorkflowFactory(), hour(-2), hour(-1))
    assert response.status_code == 409
    assert "not a schedule" in response.json()["detail"]
