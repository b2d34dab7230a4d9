"""The Tests page in Chromium: a case typed as JSON is saved, the suite runs, and the outcome is
read off the page; the page passes the a11y checks and fits a phone."""

import json

import pytest
from playwright.sync_api import expect

from tests.browser.a11y import accessibility_problems
from tests.browser.conftest import sign_in
from tests.browser.test_building import PHONE, sideways
from tests.factories import UserFactory, WorkflowFactory


@pytest.fixture
def staff(transactional_db):
    return UserFactory(username="staff", is_staff=True)


def test_a_case_is_saved_and_the_suite_runs_from_the_page(page, staff, artifacts):
    workflow = WorkflowFactory(
        name="Double it",
        actions=[
            {"id": "t", "type": "transform", "params": {"values": {"n": "{{ trigger.n * 2 }}"}}}
        ],
    )
    sign_in(page, "staff")
    page.goto(f"/dashboard/workflows/{workflow.pk}/")
    page.get_by_role("link", name="Tests").click()
    case = {
        "name": "doubles four",
        "payload": {"n": 4},
        "expect": [{"path": "steps.t.output.n", "equals": 8}],
    }
    page.get_by_label("Test case").fill(json.dumps(case))
    page.get_by_role("button", name="Save the case").click()
    expect(page.locator("#test-cases")).to_contain_text("doubles four")
    page.get_by_role("button", name="Run the tests").click()
    expect(page.locator("#outcome-heading")).to_have_text("1 passed, 0 failed")
    expect(page.locator("#test-results li[data-ok='yes']")).to_contain_text("doubles four")
    assert accessibility_problems(page) == []
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(artifacts / "tests-phone.png"), full_page=True)
    assert sideways(page) <= 0
