"""An API orchestration built in the app, not the admin: two calls filled in as rows (the second
added with "Add a call"), a dependency cycle shown beside the call, then fixed and saved. The
form passes the a11y checks and fits a phone screen."""

import pytest
from playwright.sync_api import expect

from orchestration.models import APIOrchestration
from tests.browser.a11y import accessibility_problems
from tests.browser.conftest import sign_in
from tests.browser.test_building import PHONE, sideways
from tests.browser.test_dashboard import WIDE_JS
from tests.factories import UserFactory


@pytest.fixture
def staff(transactional_db):
    return UserFactory(username="staff", is_staff=True)


def test_an_orchestration_is_created_in_the_app(page, staff, artifacts):
    sign_in(page, "staff")
    page.goto("/dashboard/orchestrations/")
    page.get_by_role("link", name="New orchestration").click()
    page.get_by_role("textbox", name="Name", exact=True).fill("Fetch then post")
    page.get_by_label("Pattern").select_option("parallel")
    first = page.locator("#call-0")
    first.get_by_label("Call id").fill("fetch")
    first.get_by_label("URL").fill("https://api.example.com/items")
    first.get_by_label("Extract").fill("first = items[0]")
    first.get_by_label("Waits for").fill("post")
    page.get_by_role("button", name="Add a call").click()

    second = page.locator("#call-1")
    second.get_by_label("Call id").fill("post")
    second.get_by_label("Method").select_option("POST")
    second.get_by_label("URL").fill("https://hooks.example.com/in")
    second.get_by_label("Headers").fill("X-Team: ops")
    second.get_by_label("Body (JSON)").fill('{"item": "{{ calls.fetch.first }}"}')
    second.get_by_label("Waits for").fill("fetch")
    page.get_by_role("button", name="Create orchestration").click()

    expect(page.locator("#field-calls-0-depends_on .field-errors")).to_contain_text(
        "Dependency cycle: fetch → post → fetch."
    )
    expect(page.locator("#dag-blocked")).to_contain_text("fetch")
    assert accessibility_problems(page) == []
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(artifacts / "orchestration-cycle-phone.png"), full_page=True)
    assert sideways(page) <= 0, page.evaluate(WIDE_JS)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.locator("#call-0").get_by_label("Waits for").fill("")
    page.get_by_role("button", name="Preview dependencies").click()
    expect(page.locator("#dag-preview ol li")).to_have_count(2)
    expect(page.locator("#dag-preview ol li").nth(1)).to_contain_text("post (after fetch)")
    page.screenshot(path=str(artifacts / "orchestration-preview.png"), full_page=True)
    page.get_by_role("button", name="Create orchestration").click()

    expect(page.locator("h1")).to_contain_text("Fetch then post")
    orchestration = APIOrchestration.objects.get()
    assert orchestration.dependencies == {"post": ["fetch"]}
    assert [call["id"] for call in orchestration.api_calls] == ["fetch", "post"]
    assert orchestration.api_calls[1]["headers"] == {"X-Team": "ops"}
