"""Bulk replay (SPEC §11): every finished execution a filter matches, replayed in the background
by a job whose progress GET jobs/{id} reports; capped, cancellable, never silent about an item
it could not start."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import WorkflowFactory
from workflows.engine import execution_run
from workflows.models import AuditEntry, AutomationExecution, Job
from workflows.services.executions import execution_create
from workflows.services.jobs import job_advance, job_publish, jobs_sweep
from workflows.services.replay import bulk_replay_start
from workflows.tasks import JOB_STARTERS

pytestmark = pytest.mark.django_db

BASE = "/api/workflow-orchestration"
BROKEN = [
    {"id": "ok", "type": "transform", "params": {"values": {"x": 1}}},
    {"id": "sum", "type": "transform", "params": {"values": {"x": "{{ trigger.missing.y }}"}}},
]


def runs(workflow, count: int, payload=None) -> list[AutomationExecution]:
    done = []
    for _ in range(count):
        execution, _ = execution_create(
            workflow=workflow, trigger_type="manual", payload=payload or {}
        )
        execution_run(execution_id=execution.pk, worker="test")
        execution.refresh_from_db()
        done.append(execution)
    return done


def advance(job_id: int) -> Job:
    """Advance the job until it has gone through its list (its runs are left queued)."""
    for _ in range(50):
        if not job_advance(job_id=job_id, starters=JOB_STARTERS):
            return Job.objects.get(pk=job_id)
    raise AssertionError("the job did not get through its list")


def job_messages(callbacks) -> list[int]:
    """The jobs the captured on-commit callbacks send a message to."""
    return [c.args[0] for c in callbacks if getattr(c, "func", None) is job_publish]


def replays_of(job: Job) -> list[AutomationExecution]:
    return list(job.executions.order_by("pk"))


def test_it_replays_each_match_from_its_failed_step_and_reports_progress(api):
    broken = WorkflowFactory(actions=BROKEN)
    failed = runs(broken, 3)
    runs(WorkflowFactory(actions=BROKEN), 1)  # another workflow's failure: not matched
    runs(WorkflowFactory(), 1)  # a completed run: not matched
    response = api.post(f"{BASE}/executions/bulk-replay", {"workflow": broken.pk}, format="json")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["matched"], body["total"]) == (3, 3)
    job = advance(body["job_id"])
    replays = replays_of(job)
    assert [r.replay_of_id for r in replays] == [e.pk for e in failed]
    assert {r.replay_from_step for r in replays} == {"sum"}
    assert {r.status for r in replays} == {"queued"}
    # The step before the failed one was carried, not run again.
    assert [list(r.steps.values_list("step_id", "status")) for r in replays] == [
        [("ok", "completed")]
    ] * 3
    progress = api.get(f"{BASE}/jobs/{job.pk}").json()
    assert progress["status"] == "completed"
    assert progress["progress"]["started"] == 3
    assert progress["progress"]["executions"]["queued"] == 3
    assert progress["created_by"]["kind"] == "token"
    assert AuditEntry.objects.filter(action="started", object_type="job").count() == 1
    assert AuditEntry.objects.filter(action="replayed").count() == 3


def test_the_filter_narrows_by_error_text_and_time_and_limit_caps_it(api):
    workflow = WorkflowFactory(actions=BROKEN)
    old = runs(workflow, 2)
    AutomationExecution.objects.filter(pk=old[0].pk).update(
        created_at=timezone.now() - timedelta(days=3)
    )
    AutomationExecution.objects.filter(pk=old[1].pk).update(error_message="Timeout")
    runs(workflow, 3)
    since = (timezone.now() - timedelta(days=1)).isoformat()
    body = {"created_after": since, "error_contains": "UNDEFINED", "limit": 2, "from": "start"}
    response = api.post(f"{BASE}/executions/bulk-replay", body, format="json")
    assert response.status_code == 202, response.json()
    assert (response.json()["matched"], response.json()["total"]) == (3, 2)
    job = advance(response.json()["job_id"])
    assert {r.replay_from_step for r in replays_of(job)} == {""}
    assert old[0].pk not in [r.replay_of_id for r in replays_of(job)]


def test_an_item_that_cannot_start_is_counted_with_why(api):
    workflow = WorkflowFactory(actions=BROKEN)
    gone, kept = runs(workflow, 2)
    response = api.post(f"{BASE}/executions/bulk-replay", {}, format="json")
    gone_id = gone.pk
    gone.delete()
    job = advance(response.json()["job_id"])
    assert (job.started, job.refused) == (1, 1)
    assert job.errors == [{"item": gone_id, "error": f"Execution {gone_id} no longer exists."}]
    assert replays_of(job)[0].replay_of_id == kept.pk


def test_batches_respect_job_batch(settings):
    settings.JOB_BATCH = 2
    workflow = WorkflowFactory(actions=BROKEN)
    runs(workflow, 5)

    job, _ = bulk_replay_start(
        filters={}, start_from="failed_step", limit=100, actor=None, max_concurrency=10
    )
    assert job_advance(job_id=job.pk, starters=JOB_STARTERS) is True
    assert Job.objects.get(pk=job.pk).started == 2
    assert advance(job.pk).started == 5


def test_the_cap_holds_until_runs_finish_and_each_finish_wakes_the_job(
    django_capture_on_commit_callbacks,
):
    runs(WorkflowFactory(actions=BROKEN), 3)
    job, _ = bulk_replay_start(
        filters={}, start_from="failed_step", limit=100, actor=None, max_concurrency=2
    )
    with django_capture_on_commit_callbacks() as sent:
        job_advance(job_id=job.pk, starters=JOB_STARTERS)
    # Two runs started and sent; no message for the job itself: their finishes will wake it.
    assert len(sent) == 2
    assert job_messages(sent) == []
    assert job_advance(job_id=job.pk, starters=JOB_STARTERS) is True
    assert AutomationExecution.objects.filter(job=job).count() == 2
    first = AutomationExecution.objects.filter(job=job).order_by("pk").first()
    with django_capture_on_commit_callbacks() as woken:
        execution_run(execution_id=first.pk, worker="test")
    assert job_messages(woken) == [job.pk]
    assert job_advance(job_id=job.pk, starters=JOB_STARTERS) is False
    assert AutomationExecution.objects.filter(job=job).count() == 3


def test_cancel_stops_the_job_and_its_runs_not_started(api, settings):
    settings.JOB_BATCH = 2
    runs(WorkflowFactory(actions=BROKEN), 4)
    job_id = api.post(f"{BASE}/executions/bulk-replay", {}, format="json").json()["job_id"]
    job_advance(job_id=job_id, starters=JOB_STARTERS)
    response = api.post(f"{BASE}/jobs/{job_id}/cancel")
    assert response.status_code == 202
    job = advance(job_id)
    assert (job.status, job.started) == ("cancelled", 2)
    assert {r.status for r in replays_of(job)} == {"cancelled"}
    assert api.post(f"{BASE}/jobs/{job_id}/cancel").status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "running"}, "status"),
        ({"limit": 0}, "limit"),
        ({"from": "middle"}, "from"),
        ({"workflowId": 1}, "workflowId"),
        ({"created_after": "yesterday"}, "created_after"),
    ],
)
def test_bad_filters_are_a_400_naming_the_field(api, body, field):
    response = api.post(f"{BASE}/executions/bulk-replay", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Job.objects.count() == 0


def test_the_sweep_resends_a_job_that_stood_still():
    runs(WorkflowFactory(actions=BROKEN), 1)

    job, _ = bulk_replay_start(filters={}, start_from="start", limit=10, actor=None)
    assert jobs_sweep() == 0
    Job.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    assert jobs_sweep() == 1
