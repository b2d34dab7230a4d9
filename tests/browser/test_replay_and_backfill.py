"""The replay console and a backfill's progress, in Chromium: a failed run's replay page shows
what each step will do before anything starts — the message already sent is not sent again —
and the confirmation starts a linked replay; a backfill started from the workflow page shows
its progress live as the slots run. Pages pass the a11y checks and fit a phone."""

import pytest
from playwright.sync_api import expect

from alerts.models import Notification
from tests.browser.a11y import accessibility_problems
from tests.browser.conftest import sign_in
from tests.browser.test_building import PHONE, sideways
from tests.factories import UserFactory, WorkflowFactory
from workflows.engine import execution_run
from workflows.models import AutomationExecution, Job
from workflows.services.executions import execution_create
from workflows.services.jobs import job_advance
from workflows.tasks import JOB_STARTERS


@pytest.fixture
def staff(transactional_db):
    return UserFactory(username="staff", is_staff=True)


def test_a_replay_shows_its_plan_then_starts_linked_without_resending(page, staff, artifacts):
    workflow = WorkflowFactory(
        name="Share the post",
        actions=[
            {
                "id": "tell",
                "type": "notify",
                "params": {"channel": "in_app", "recipients": ["staff"], "message": "Out"},
            },
            {"id": "sum", "type": "transform", "params": {"values": {"x": "{{ trigger.a.b }}"}}},
        ],
    )
    origin, _ = execution_create(workflow=workflow, trigger_type="manual")
    execution_run(execution_id=origin.pk, worker="test")
    sign_in(page, "staff")
    page.goto(f"/dashboard/executions/{origin.pk}/")
    page.get_by_role("link", name="Replay…").click()

    expect(page.locator("h1")).to_contain_text(f"Replay execution #{origin.pk}")
    expect(page.get_by_label("Start from")).to_have_value("sum")
    expect(page.locator("#plan-tell")).to_contain_text(f"Kept from #{origin.pk}")
    page.get_by_label("Start from").select_option("")
    page.get_by_role("button", name="Show what it will do").click()
    expect(page.locator("#plan-tell")).to_contain_text("Already made: not repeated")
    expect(page.locator("#plan-sum")).to_contain_text("Runs")
    assert accessibility_problems(page) == []
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(artifacts / "replay-plan-phone.png"), full_page=True)
    assert sideways(page) <= 0
    assert AutomationExecution.objects.count() == 1

    page.get_by_role("button", name="Replay").click()
    replay = AutomationExecution.objects.exclude(pk=origin.pk).get()
    expect(page.locator("#replay-of")).to_contain_text(f"#{origin.pk}")
    expect(page.locator("#replay-of")).to_contain_text("from the start")
    execution_run(execution_id=replay.pk, worker="test")
    assert Notification.objects.filter(user=staff).count() == 1
    page.goto(f"/dashboard/executions/{origin.pk}/")
    expect(page.locator("#replays")).to_contain_text(f"#{replay.pk}")


def test_a_backfill_started_from_the_workflow_page_shows_its_progress_live(
    page, staff, artifacts, settings
):
    settings.DASHBOARD_LIVE_REFRESH_S = 1
    workflow = WorkflowFactory(
        name="Daily digest", trigger={"type": "schedule"}, schedule="0 9 * * *"
    )
    sign_in(page, "staff")
    page.goto(f"/dashboard/workflows/{workflow.pk}/")
    page.get_by_label("From").fill("2026-01-10T09:00")
    page.get_by_label("To").fill("2026-01-13T09:00")
    page.get_by_label("At most at once").fill("2")
    page.get_by_role("button", name="Backfill").click()

    expect(page.locator("#job-counts")).to_contain_text("0 of 4 gone through")
    assert accessibility_problems(page) == []
    job = Job.objects.get()
    # A worker's part, here in the test: each batch starts what the cap allows, then runs it.
    while job_advance(job_id=job.pk, starters=JOB_STARTERS):
        for run in AutomationExecution.objects.filter(job=job, status="queued"):
            execution_run(execution_id=run.pk, worker="test")
        expect(page.locator("#job-progress")).not_to_have_attribute("value", "0")
    for run in AutomationExecution.objects.filter(job=job, status="queued"):
        execution_run(execution_id=run.pk, worker="test")
    expect(page.locator("#job-status")).to_have_attribute("data-status", "completed")
    expect(page.locator("#job-counts")).to_contain_text("4 of 4 gone through (100 %)")
    expect(page.locator("[data-runs='completed']")).to_have_text("4")
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(artifacts / "backfill-done-phone.png"), full_page=True)
    assert sideways(page) <= 0
