"""Building a workflow in the editor, in a real browser, without typing any JSON: a cron
schedule described in words, an HTTP request to a local stub server and a transform that uses
its output, steps reordered with the keyboard only, then a run on a real worker that completes
and the graph of its steps. Screenshots of the step editor, the trigger editor and the graph
go under var/test-artifacts/browser/."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y import accessibility_problems
from tests.browser.conftest import sign_in
from tests.browser.test_dashboard import WIDE_JS
from tests.factories import UserFactory, WorkflowFactory
from workflows.models import AutomationWorkflow

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def staff(transactional_db):
    return UserFactory(username="staff", is_staff=True)


def sideways(page: Page) -> int:
    """How far the page scrolls sideways (the tab bar scrolls inside itself, which is fine)."""
    return int(
        page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    )


def step(page: Page, number: int):
    return page.locator(f"#step-{number - 1}")


def add_step(page: Page, search: str, title: str) -> None:
    """Find the action in the catalogue by a search and add it."""
    page.get_by_label("Search actions").fill(search)
    entry = page.locator("#catalogue").get_by_role("button", name=title)
    expect(page.locator("#catalogue .catalogue-entry")).to_have_count(1)
    entry.click()


def test_a_two_step_workflow_is_built_scheduled_and_run_without_json(
    page, staff, start_worker, httpserver, allow_loopback, artifacts
):
    httpserver.expect_request("/users/7").respond_with_json({"name": "Ada", "id": 7})
    start_worker()
    sign_in(page, "staff")
    page.get_by_role("link", name="New workflow").click()
    page.get_by_role("textbox", name="Name", exact=True).fill("Onboarding")

    page.get_by_label("Trigger type").select_option("schedule")
    page.get_by_label("Cron expression").fill("30 9 * * 1-5")
    page.get_by_label("Time zone").select_option("Asia/Tokyo")
    summary = page.locator("#cron-summary")
    expect(summary).to_contain_text("At 09:30, Monday through Friday")
    expect(summary.locator("li")).to_have_count(5)
    expect(summary).to_contain_text("Asia/Tokyo")
    page.locator(".editor-trigger").screenshot(path=str(artifacts / "trigger-editor.png"))

    add_step(page, "http", "HTTP request")
    step(page, 1).get_by_role("textbox", name="id", exact=True).fill("fetch")
    step(page, 1).get_by_role("textbox", name="url").fill(httpserver.url_for("/users/7"))
    step(page, 1).get_by_role("button", name="Preview url").click()
    expect(page.locator("#preview-s0-p-url")).to_contain_text("/users/7")

    add_step(page, "transform", "Transform values")
    values = step(page, 2).locator("fieldset.map")
    values.get_by_role("textbox", name="Key 1 of values").fill("greeting")
    values.get_by_role("textbox", name="Value 1 of values").fill(
        "Hello {{ steps.fetch.body.name }}"
    )
    expect(step(page, 2).locator(".variables")).to_contain_text("steps.fetch")

    # Keyboard only: move the transform above the request, and back.
    page.get_by_role("button", name="Move step 2 up").focus()
    page.keyboard.press("Enter")
    expect(step(page, 1).locator("h3")).to_contain_text("Transform values")
    expect(page.get_by_role("button", name="Move step 1 down")).to_be_focused()
    page.keyboard.press("Enter")
    expect(step(page, 1).locator("h3")).to_contain_text("HTTP request")
    expect(page.get_by_role("button", name="Move step 2 up")).to_be_focused()
    expect(step(page, 2).get_by_role("textbox", name="Value 1 of values")).to_have_value(
        "Hello {{ steps.fetch.body.name }}"
    )

    page.screenshot(path=str(artifacts / "step-editor.png"), full_page=True)
    assert accessibility_problems(page) == []
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(artifacts / "step-editor-phone.png"), full_page=True)
    assert sideways(page) <= 0, page.evaluate(WIDE_JS)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("button", name="Create workflow").click()
    expect(page.locator("h1")).to_have_text("Onboarding")
    workflow = AutomationWorkflow.objects.get()
    assert workflow.schedule == "30 9 * * 1-5"
    assert workflow.trigger == {"type": "schedule", "timezone": "Asia/Tokyo"}
    assert [action["id"] for action in workflow.actions] == ["fetch", "transform"]

    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#execution-status")).to_have_attribute(
        "data-status", "completed", timeout=45_000
    )
    page.locator("#step-transform summary", has_text="Output").click()
    expect(page.locator("#step-transform")).to_contain_text("Hello Ada")
    graph = page.locator("#execution-graph")
    expect(graph.locator('[data-status="completed"]')).to_have_count(2)
    graph.screenshot(path=str(artifacts / "graph-execution.png"))
    assert accessibility_problems(page) == []

    page.goto(f"/dashboard/workflows/{workflow.pk}/")
    expect(page.locator("#workflow-graph")).to_contain_text("2. transform")
    page.locator("#workflow-graph").screenshot(path=str(artifacts / "graph-workflow.png"))
    assert accessibility_problems(page) == []


def test_a_failed_save_shows_the_error_beside_the_field_also_on_a_phone(page, staff, artifacts):
    sign_in(page, "staff")
    page.set_viewport_size(PHONE)
    page.goto("/dashboard/workflows/new/")
    page.get_by_role("textbox", name="Name", exact=True).fill("Broken")
    add_step(page, "http", "HTTP request")
    step(page, 1).get_by_role("textbox", name="url").fill("not a url")
    # Enter in a field shows the form again (it does not press Move up, nor save).
    with page.expect_navigation():
        step(page, 1).get_by_role("textbox", name="url").press("Enter")
    expect(step(page, 1).get_by_role("textbox", name="url")).to_have_value("not a url")
    expect(step(page, 1).locator("h3")).to_contain_text("HTTP request")
    assert not AutomationWorkflow.objects.exists()
    page.get_by_role("button", name="Create workflow").click()
    expect(page.locator("#field-s0-p-url .field-errors")).to_contain_text("Enter a valid URL.")
    assert sideways(page) <= 0, page.evaluate(WIDE_JS)
    assert accessibility_problems(page) == []
    page.screenshot(path=str(artifacts / "step-editor-error-phone.png"), full_page=True)
    assert not AutomationWorkflow.objects.exists()


def test_a_webhook_trigger_shows_its_url_with_a_copy_button(page, staff, artifacts):
    workflow = WorkflowFactory(
        name="Hook", trigger={"type": "webhook"}, trigger_type="webhook", webhook_token="tok123"
    )
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, "staff")
    page.goto(f"/dashboard/workflows/{workflow.pk}/edit/")
    url = page.get_by_label("Webhook URL")
    expect(url).to_have_value(
        f"{page.url.split('/dashboard/')[0]}/api/workflow-orchestration/hooks/tok123"
    )
    page.get_by_role("button", name="Copy").click()
    expect(page.locator(".copy-status")).to_have_text("Copied.")
    expect(page.get_by_label("Webhook signing secret")).to_be_visible()
    expect(page.get_by_label("Cron expression")).to_be_hidden()
    assert accessibility_problems(page) == []
    page.locator(".editor-trigger").screenshot(path=str(artifacts / "trigger-editor-webhook.png"))
