"""Alert rules made in the app, not the admin: events ticked as checkboxes, a channel error shown
beside its field, then the rule saved and edited."""

import pytest
from playwright.sync_api import expect

from alerts.models import AutomationAlert
from tests.browser.a11y import accessibility_problems
from tests.browser.conftest import sign_in
from tests.factories import UserFactory


@pytest.fixture
def staff(transactional_db):
    return UserFactory(username="staff", is_staff=True)


def test_an_alert_rule_is_created_and_edited_in_the_app(page, staff, artifacts):
    sign_in(page, "staff")
    page.goto("/dashboard/alerts/")
    page.get_by_role("link", name="New alert rule").click()
    page.get_by_role("textbox", name="Name", exact=True).fill("Failures by email")
    page.get_by_label("Execution failed").check()
    page.get_by_label("Step failed").check()
    page.get_by_label("Channel").select_option("email")
    page.get_by_role("button", name="Create alert rule").click()

    expect(page.locator("#field-recipients .field-errors")).to_be_visible()
    expect(page.get_by_label("Step failed")).to_be_checked()
    assert accessibility_problems(page) == []
    page.screenshot(path=str(artifacts / "alert-form-error.png"), full_page=True)

    page.get_by_label("Channel").select_option("in_app")
    page.get_by_label("Recipients").fill("staff")
    page.get_by_role("button", name="Create alert rule").click()
    expect(page.locator("h1")).to_have_text("Failures by email")
    alert = AutomationAlert.objects.get()
    assert alert.events == ["execution.failed", "step.failed"]

    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Step failed").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".facts")).to_contain_text("execution.failed")
    alert.refresh_from_db()
    assert alert.events == ["execution.failed"]
