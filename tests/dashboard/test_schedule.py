"""A schedule workflow's page: its next runs, and pausing or resuming its schedule."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from tests.factories import WorkflowFactory
from workflows.models import AuditEntry

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def scheduled(**fields):
    trigger = {"type": "schedule", "timezone": "Europe/Paris"}
    return WorkflowFactory(trigger=trigger, schedule="0 9 * * *", **fields)


def pause_url(workflow):
    return f"/dashboard/workflows/{workflow.pk}/pause/"


def test_the_page_lists_the_next_five_runs_in_the_schedules_zone(staff_client):
    workflow = scheduled()
    with time_machine.travel(NOW, tick=False):
        page = staff_client.get(f"/dashboard/workflows/{workflow.pk}/").content.decode()
    assert "Every day at 09:00 (Europe/Paris)" in page
    assert "Next runs (Europe/Paris)" in page
    assert page.count('<time datetime="2026-11-') == 4  # 27th to 30th
    assert '<time datetime="2026-11-27T09:00:00+01:00">Fri 27 Nov 2026, 09:00</time>' in page
    assert '<time datetime="2026-12-01T09:00:00+01:00">' in page
    assert 'name="pause-paused_until"' in page


def test_a_manual_workflows_page_has_no_schedule_card(staff_client):
    page = staff_client.get(f"/dashboard/workflows/{WorkflowFactory().pk}/").content.decode()
    assert "Next runs" not in page and "pause-paused_until" not in page


def test_pausing_reads_the_time_in_the_schedules_zone_and_is_audited(staff_client):
    workflow = scheduled()
    with time_machine.travel(NOW, tick=False):
        response = staff_client.post(
            pause_url(workflow), {"pause-paused_until": "2026-12-01T10:00"}
        )
        assert response.status_code == 302
        page = staff_client.get(f"/dashboard/workflows/{workflow.pk}/").content.decode()
    workflow.refresh_from_db()
    assert workflow.schedule_paused_until == datetime(2026, 12, 1, 9, tzinfo=UTC)
    entry = AuditEntry.objects.get(action="updated")
    assert entry.actor["kind"] == "user" and entry.detail["fields"] == ["schedule_paused_until"]
    assert "Paused until" in page and "Resume now" in page
    assert '<time datetime="2026-12-02T09:00:00+01:00">' in page  # the first run after it
    assert '<time datetime="2026-11-27T09:00:00+01:00">' not in page


def test_resuming_clears_the_pause(staff_client):
    workflow = scheduled(schedule_paused_until=datetime(2030, 1, 1, tzinfo=UTC))
    response = staff_client.post(pause_url(workflow), {"resume": "1"})
    assert response.status_code == 302
    workflow.refresh_from_db()
    assert workflow.schedule_paused_until is None


@pytest.mark.parametrize("value", ["", "tomorrow", "2020-01-01T09:00"])
def test_a_missing_bad_or_past_date_is_a_400_beside_the_field(staff_client, value):
    workflow = scheduled()
    response = staff_client.post(pause_url(workflow), {"pause-paused_until": value})
    assert response.status_code == 400
    assert response.context["pause_form"].errors["paused_until"]
    workflow.refresh_from_db()
    assert workflow.schedule_paused_until is None


def test_a_workflow_without_a_schedule_cannot_be_paused(staff_client):
    workflow = WorkflowFactory()
    response = staff_client.post(pause_url(workflow), {"pause-paused_until": "2030-01-01T09:00"})
    assert response.status_code == 302
    workflow.refresh_from_db()
    assert workflow.schedule_paused_until is None


def test_only_staff_may_pause_and_only_by_a_post_with_a_csrf_token(
    plain_client, client, staff_user, staff_client
):
    workflow = scheduled()
    data = {"pause-paused_until": "2030-01-01T09:00"}
    assert plain_client.post(pause_url(workflow), data).status_code == 403
    assert client.post(pause_url(workflow), data).status_code == 302  # to the sign-in page
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff_user)
    assert strict.post(pause_url(workflow), data).status_code == 403
    assert staff_client.get(pause_url(workflow)).status_code == 405
    workflow.refresh_from_db()
    assert workflow.schedule_paused_until is None
