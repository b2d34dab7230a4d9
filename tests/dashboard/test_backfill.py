"""Backfill from the workflow page: the range is read in the schedule's time zone, a bad one is a
400 beside its field, a good one starts a job and shows its page; the workflow lists its
backfills."""

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from tests.factories import WorkflowFactory
from workflows.models import Job


def paris_daily():
    return WorkflowFactory(
        trigger={"type": "schedule", "timezone": "Europe/Paris"}, schedule="0 9 * * *"
    )


def post(client, workflow, **data):
    fields = {f"backfill-{key}": value for key, value in data.items()}
    return client.post(f"/dashboard/workflows/{workflow.pk}/backfill/", fields)


def test_the_range_is_read_in_the_schedules_zone_and_the_job_page_follows(staff_client):
    workflow = paris_daily()
    response = post(
        staff_client, workflow, start="2026-01-10T09:00", end="2026-01-12T09:00", max_concurrency=2
    )
    job = Job.objects.get()
    assert response["Location"] == f"/dashboard/jobs/{job.pk}/"
    # 09:00 typed is 09:00 in Paris (UTC+1 in January); both ends included: three slots.
    assert job.params["start"] == "2026-01-10T09:00:00+01:00"
    assert job.items == [
        "2026-01-10T09:00:00+01:00",
        "2026-01-11T09:00:00+01:00",
        "2026-01-12T09:00:00+01:00",
    ]
    assert job.params["max_concurrency"] == 2
    page = staff_client.get(f"/dashboard/workflows/{workflow.pk}/").content.decode()
    assert f'<a href="/dashboard/jobs/{job.pk}/">Backfill #{job.pk}</a>' in page


def test_a_reversed_or_future_range_is_a_400_beside_the_end(staff_client):
    workflow = paris_daily()
    reversed_range = post(
        staff_client, workflow, start="2026-01-12T09:00", end="2026-01-10T09:00", max_concurrency=2
    )
    assert reversed_range.status_code == 400
    assert 'id="field-backfill-end"' in reversed_range.content.decode()
    assert "Must be after start." in reversed_range.content.decode()
    future = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    ahead = post(
        staff_client, workflow, start="2026-01-10T09:00", end=future, max_concurrency=2
    ).content.decode()
    assert "Must not be in the future" in ahead
    missing = post(staff_client, workflow, start="", end="", max_concurrency=0)
    assert missing.status_code == 400
    assert Job.objects.count() == 0


def test_a_workflow_without_a_schedule_cannot_be_backfilled(staff_client):
    workflow = WorkflowFactory()
    end = datetime.now(UTC) - timedelta(hours=1)
    response = post(
        staff_client,
        workflow,
        start=(end - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        end=end.strftime("%Y-%m-%dT%H:%M"),
        max_concurrency=1,
    )
    assert response.status_code == 302
    assert "not a schedule" in staff_client.get(response["Location"]).content.decode()
    assert Job.objects.count() == 0


def test_only_staff_may_backfill(client, plain_user):
    client.force_login(plain_user)
    workflow = paris_daily()
    response = post(client, workflow, start="2026-01-10T09:00", end="2026-01-11T09:00")
    assert response.status_code == 403
    assert Job.objects.count() == 0
