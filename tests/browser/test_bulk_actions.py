"""Bulk Retry from the executions list with the keyboard only: a row ticked with Space keeps its
tick through the list's live refresh, "every execution the filter matches" ticked, the Retry
button pressed, the count confirmed, and the outcome reported. Both pages pass the a11y checks
and fit a phone screen."""

import pytest
from playwright.sync_api import expect

from tests.browser.a11y import accessibility_problems
from tests.browser.conftest import sign_in
from tests.browser.test_building import PHONE, sideways
from tests.factories import ExecutionFactory, UserFactory
from workflows.models import AutomationExecution


@pytest.fixture
def staff(transactional_db):
    return UserFactory(username="staff", is_staff=True)


def test_failed_executions_are_retried_in_bulk_with_the_keyboard(page, staff, artifacts, settings):
    settings.DASHBOARD_LIVE_REFRESH_S = 1
    failed = ExecutionFactory.create_batch(2, status="failed")
    ExecutionFactory(status="completed")
    sign_in(page, "staff")
    page.goto("/dashboard/executions/?status=failed")

    row = page.get_by_label(f"Select execution #{failed[0].pk}")
    row.focus()
    page.keyboard.press("Space")
    # The live refresh swaps the whole table body: wait for a new one, then look at the tick.
    page.evaluate("document.getElementById('execution-rows').dataset.before = 'yes'")
    expect(page.locator("#execution-rows[data-before]")).to_have_count(0)
    expect(row).to_be_checked()

    everything = page.get_by_label("Every execution the filter matches (2)")
    everything.focus()
    page.keyboard.press("Space")
    expect(everything).to_be_checked()
    assert accessibility_problems(page) == []
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Retry selected…")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.locator("h1")).to_have_text("Retry 2 executions?")
    expect(page.locator("#bulk-count")).to_contain_text("2 of them failed")
    assert accessibility_problems(page) == []
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(artifacts / "bulk-confirm-phone.png"), full_page=True)
    assert sideways(page) <= 0
    page.get_by_role("button", name="Yes, retry 2").focus()
    page.keyboard.press("Enter")

    expect(page.locator(".messages")).to_contain_text("2 retried, 0 skipped (not failed).")
    assert page.url.endswith("/dashboard/executions/?status=failed")
    page.screenshot(path=str(artifacts / "bulk-done-phone.png"), full_page=True)
    assert sideways(page) <= 0
    statuses = AutomationExecution.objects.filter(pk__in=[row.pk for row in failed])
    assert set(statuses.values_list("status", flat=True)) == {"queued"}
