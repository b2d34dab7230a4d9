"""The replay page (what each step will do, then confirm), the lineage on both executions, bulk
replay from the list, and a job's page with its progress and Cancel."""

import pytest

from alerts.models import Notification
from tests.factories import WorkflowFactory
from workflows.engine import execution_run
from workflows.models import AuditEntry, AutomationExecution, Job
from workflows.services.executions import execution_create
from workflows.services.jobs import job_advance
from workflows.tasks import JOB_STARTERS

NOTIFY = {
    "id": "tell",
    "type": "notify",
    "params": {"channel": "in_app", "recipients": ["staff"], "message": "Published"},
}
BROKEN = {"id": "sum", "type": "transform", "params": {"values": {"x": "{{ trigger.no.y }}"}}}
AFTER = {"id": "after", "type": "transform", "params": {"values": {"y": "{{ steps.sum.x }}"}}}


@pytest.fixture
def failed(staff_user) -> AutomationExecution:
    workflow = WorkflowFactory(name="Share", actions=[NOTIFY, BROKEN, AFTER])
    execution, _ = execution_create(workflow=workflow, trigger_type="manual")
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    assert execution.status == "failed"
    return execution


def url(execution: AutomationExecution) -> str:
    return f"/dashboard/executions/{execution.pk}/replay/"


def test_the_page_starts_at_the_failed_step_and_shows_what_each_step_will_do(staff_client, failed):
    page = staff_client.get(url(failed)).content.decode()
    assert '<option value="sum" selected>' in page
    assert 'id="plan-tell" data-plan="carried" data-effects="none"' in page
    assert 'id="plan-sum" data-plan="runs"' in page
    assert AutomationExecution.objects.count() == 1


def test_from_the_start_it_says_the_sent_message_is_not_repeated_unless_forced(
    staff_client, failed
):
    page = staff_client.get(url(failed), {"from_step": "", "revision": "original"})
    assert 'id="plan-tell" data-plan="runs" data-effects="recorded"' in page.content.decode()
    assert "Already made: not repeated" in page.content.decode()
    forced = staff_client.get(
        url(failed), {"from_step": "", "revision": "original", "force_effects": "on"}
    ).content.decode()
    assert 'data-effects="again"' in forced and "Sends again" in forced


def test_confirming_starts_the_replay_and_both_pages_show_the_lineage(
    staff_client, staff_user, failed
):
    response = staff_client.post(
        url(failed),
        {
            "from_step": "sum",
            "revision": "original",
            "mark_step": "sum",
            "mark_status": "completed",
            "mark_output": '{"x": 5}',
        },
    )
    replay = AutomationExecution.objects.exclude(pk=failed.pk).get()
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/executions/{replay.pk}/"
    execution_run(execution_id=replay.pk, worker="test")
    replay.refresh_from_db()
    assert replay.status == "completed"
    assert replay.context["steps"]["after"] == {"y": 5}
    assert Notification.objects.filter(user=staff_user).count() == 1
    page = staff_client.get(f"/dashboard/executions/{replay.pk}/").content.decode()
    assert f'id="replay-of"><a href="/dashboard/executions/{failed.pk}/">#{failed.pk}</a>' in page
    origin_page = staff_client.get(f"/dashboard/executions/{failed.pk}/").content.decode()
    assert f'<a href="/dashboard/executions/{replay.pk}/">#{replay.pk}</a>' in origin_page
    assert AuditEntry.objects.get(action="replayed").actor_name == staff_user.username


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (
            {"from_step": "after", "mark_status": "completed"},
            "&#x27;sum&#x27; did not complete",
        ),
        (
            {"mark_step": "sum", "mark_status": "skipped", "mark_output": '{"x": 1}'},
            "A skipped step has no output.",
        ),
        ({"from_step": "nope", "mark_status": "completed"}, "Select a valid choice."),
        ({"mark_status": "completed", "mark_output": "{oops"}, "Enter a valid JSON."),
    ],
)
def test_a_replay_that_cannot_be_is_a_400_beside_the_field(staff_client, failed, data, error):
    response = staff_client.post(url(failed), {"revision": "original", **data})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert AutomationExecution.objects.count() == 1


def test_an_execution_under_way_cannot_be_replayed(staff_client):
    execution, _ = execution_create(workflow=WorkflowFactory(), trigger_type="manual")
    response = staff_client.get(url(execution), follow=True)
    assert "only a finished execution can be replayed" in response.content.decode()


def test_plain_users_get_the_forbidden_page(client, plain_user, failed):
    client.force_login(plain_user)
    assert client.post(url(failed), {"revision": "original"}).status_code == 403
    assert AutomationExecution.objects.count() == 1


def test_bulk_replay_confirms_the_count_then_runs_as_a_job_with_a_progress_page(
    staff_client, failed
):
    confirm = staff_client.post(
        "/dashboard/executions/bulk/", {"action": "replay", "ids": [failed.pk]}
    ).content.decode()
    assert "Replay 1 execution?" in confirm
    assert "1 of them are finished and will each be replayed" in confirm
    response = staff_client.post(
        "/dashboard/executions/bulk/apply/",
        {"action": "replay", "ids": [failed.pk], "start_from": "start"},
    )
    job = Job.objects.get()
    assert response["Location"] == f"/dashboard/jobs/{job.pk}/"
    page = staff_client.get(f"/dashboard/jobs/{job.pk}/").content.decode()
    assert "0 of 1 gone through" in page and 'id="job-cancel"' in page
    assert f'hx-get="/dashboard/jobs/{job.pk}/live/"' in page
    job_advance(job_id=job.pk, starters=JOB_STARTERS)
    live = staff_client.get(f"/dashboard/jobs/{job.pk}/live/").content.decode()
    assert "1 of 1 gone through (100 %)" in live
    assert 'data-runs="queued">1<' in live
    assert "hx-get" not in live  # finished: no more polling
    replay = AutomationExecution.objects.get(job=job)
    assert (replay.replay_of_id, replay.replay_from_step) == (failed.pk, "")


def test_cancelling_a_job_from_its_page(staff_client, failed):
    staff_client.post("/dashboard/executions/bulk/apply/", {"action": "replay", "ids": [failed.pk]})
    job = Job.objects.get()
    response = staff_client.post(f"/dashboard/jobs/{job.pk}/cancel/", follow=True)
    assert "stops before its next batch" in response.content.decode()
    job_advance(job_id=job.pk, starters=JOB_STARTERS)
    job.refresh_from_db()
    assert (job.status, job.started) == ("cancelled", 0)
    again = staff_client.post(f"/dashboard/jobs/{job.pk}/cancel/", follow=True)
    assert "nothing to cancel" in again.content.decode()
