"""The dashboard in a real browser: sign in, every tab, a workflow created through the form and
run to completion on a worker while the page updates itself, an approval given on the page that
lets a run complete on a worker, a dry run's report, a revert, a workflow revision restored, and
the self-refreshing widget. Each page is saved as a screenshot under var/test-artifacts/browser/."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.a11y import accessibility_problems
from tests.browser.conftest import sign_in
from tests.conftest import wait_for
from tests.dashboard.data import (
    APPROVAL_ACTIONS,
    APPROVAL_MESSAGE,
    article_with_three_versions,
    dashboard_data_seed,
    execution_waiting_for_approval,
    greeting,
    workflow_with_three_revisions,
)
from tests.factories import UserFactory, WorkflowFactory
from versioning.models import ContentVersion
from workflows.models import AutomationExecution, AutomationWorkflow, WorkflowRevision
from workflows.services.executions import execution_create

# Adds an iframe to the page and resolves once it has loaded.
FRAME_JS = """(src) => new Promise((resolve) => {
    const frame = document.createElement("iframe");
    frame.id = "embedded";
    frame.src = src;
    frame.onload = () => resolve();
    document.body.append(frame);
})"""

WIDE_JS = """() => [...document.querySelectorAll('body *')]
    .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
    .slice(0, 5).map((el) => el.tagName + '.' + el.className)"""

TABS = [
    ("Workflows", "workflows"),
    ("Executions", "executions"),
    ("Alerts", "alerts"),
    ("Versions", "versions"),
    ("API Orchestration", "orchestrations"),
    ("Audit", "audit"),
]


@pytest.fixture
def staff(transactional_db):
    return UserFactory(username="staff", is_staff=True)


def page_is_not_reloaded(page) -> None:
    """Mark the document, so a later check can tell that no navigation replaced it."""
    page.evaluate("window.__sameDocument = true")


def assert_same_document(page) -> None:
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"


def test_staff_sign_in_and_open_each_tab(page, staff, artifacts):
    seeded = dashboard_data_seed(staff)
    sign_in(page, "staff")
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    for label, slug in TABS:
        tab = page.get_by_role("navigation", name="Dashboard sections").get_by_role(
            "link", name=label
        )
        # Keyboard only: focus the tab's link and press Enter.
        tab.focus()
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        expect(page.locator('.tabs a[aria-current="page"]')).to_have_text(label)
        expect(page.locator("h1")).to_have_text(label)
        expect(page.locator("#stats")).to_contain_text("System health")
        page.screenshot(path=str(artifacts / f"{slug}.png"), full_page=True)
        assert accessibility_problems(page) == [], label
    details = {
        "workflow-detail": f"/dashboard/workflows/{seeded.workflow.pk}/",
        "execution-failed": f"/dashboard/executions/{seeded.objects['failed'].pk}/",
        "alert-detail": f"/dashboard/alerts/{seeded.objects['alert'].pk}/",
        "article-history": f"/dashboard/versions/{seeded.article.pk}/",
        "orchestration-detail": f"/dashboard/orchestrations/{seeded.objects['orchestration'].pk}/",
    }
    for name, url in details.items():
        page.goto(url)
        expect(page.locator("#stats")).to_contain_text("System health")
        page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
        assert accessibility_problems(page) == [], name


def test_a_workflow_created_through_the_form_runs_to_completed_without_a_reload(
    page, staff, start_worker, artifacts
):
    start_worker()
    sign_in(page, "staff")
    page.get_by_role("link", name="New workflow").click()
    page.get_by_label("Name").fill("Greeter")
    page.get_by_role("button", name="Edit as JSON").click()
    page.get_by_label("Actions").fill('[{"id": "greet", "type": "no_such_type", "params": {}}]')
    page.get_by_role("button", name="Create workflow").click()

    errors = page.locator("#field-actions .field-errors")
    expect(errors).to_contain_text("action 1 › type")
    expect(errors).to_contain_text("no_such_type")
    page.screenshot(path=str(artifacts / "workflow-form-error.png"), full_page=True)
    assert not AutomationWorkflow.objects.exists()

    page.get_by_label("Actions").fill(
        '[{"id": "greet", "type": "transform",'
        ' "params": {"values": {"greeting": "Hello {{ trigger.name }}"}}}]'
    )
    page.get_by_role("button", name="Create workflow").click()
    expect(page.locator("h1")).to_have_text("Greeter")

    page.get_by_label("Trigger payload").fill('{"name": "Ada"}')
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("h1")).to_contain_text("Execution #")
    page_is_not_reloaded(page)
    expect(page.locator("#execution-status")).to_have_attribute(
        "data-status", "completed", timeout=45_000
    )
    assert_same_document(page)
    page.locator("#step-greet summary", has_text="Output").click()
    expect(page.locator("#step-greet")).to_contain_text("Hello Ada")
    page.screenshot(path=str(artifacts / "execution-completed.png"), full_page=True)


def test_an_article_is_reverted_to_an_earlier_version(page, staff, artifacts):
    article = article_with_three_versions(staff)
    sign_in(page, "staff")
    page.goto("/dashboard/versions/")
    page.get_by_role("link", name=article.title).click()
    expect(page.locator(".diff-split")).to_contain_text("A brand new second line.")
    page.get_by_role("link", name="Revert to v1…").click()
    expect(page.locator("h1")).to_contain_text("to version 1?")
    expect(page.locator(".diff-split")).to_contain_text("Launch notes, revised")
    page.screenshot(path=str(artifacts / "revert-confirm.png"), full_page=True)
    page.get_by_role("button", name="Revert to version 1").click()

    expect(page.locator(".messages")).to_contain_text("reverted to version 1")
    expect(page.locator("#version-4")).to_contain_text("Reverted")
    article.refresh_from_db()
    assert (article.title, article.content) == ("Launch notes", "First line.\nSecond line.")
    assert ContentVersion.objects.get(article=article, version_number=4).change_type == "revert"


def test_a_waiting_execution_is_approved_on_its_page_and_completes_without_a_reload(
    page, staff, start_worker, settings, artifacts
):
    settings.DASHBOARD_LIVE_REFRESH_S = 1
    start_worker()
    workflow = WorkflowFactory(name="Launch with sign-off", actions=APPROVAL_ACTIONS)
    execution, _ = execution_create(workflow=workflow, trigger_type="manual", payload={})
    wait_for(lambda: AutomationExecution.objects.get(pk=execution.pk).status == "waiting")

    sign_in(page, "staff")
    page.goto("/dashboard/executions/")
    expect(page.locator(f"#execution-row-{execution.pk} .badge")).to_have_text("waiting")
    page.screenshot(path=str(artifacts / "executions-waiting.png"), full_page=True)
    page.locator(f"#execution-link-{execution.pk}").click()
    expect(page.locator("#approval-message")).to_have_text(APPROVAL_MESSAGE)
    assert accessibility_problems(page) == []

    comment = page.get_by_label("Comment")
    comment.fill("Checked the copy")
    # The page polls while the run waits: what is being typed is kept through a refresh.
    with page.expect_response(lambda response: "/live/" in response.url):
        pass
    page.wait_for_timeout(200)  # let the swap settle
    expect(comment).to_have_value("Checked the copy")
    page.screenshot(path=str(artifacts / "execution-approval.png"), full_page=True)

    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".messages")).to_contain_text("approved")
    page_is_not_reloaded(page)
    expect(page.locator("#execution-status")).to_have_attribute(
        "data-status", "completed", timeout=45_000
    )
    assert_same_document(page)
    expect(page.locator("#decision-ask")).to_contain_text("approved by staff")
    expect(page.locator("#decision-ask")).to_contain_text("Checked the copy")
    page.screenshot(path=str(artifacts / "execution-approved.png"), full_page=True)


def test_a_dry_run_shows_its_report_and_bad_json_beside_the_field(page, staff, artifacts):
    workflow = WorkflowFactory(
        name="Digest",
        actions=[
            {"id": "calc", "type": "transform", "params": {"values": {"n": "{{ trigger.n }}"}}},
            {
                "id": "post",
                "type": "api_call",
                "params": {"method": "POST", "url": "https://example.com/x", "body": {"n": 1}},
            },
            {"id": "big", "type": "transform", "condition": "steps.calc.n > 9", "params": {}},
        ],
    )
    sign_in(page, "staff")
    page.goto(f"/dashboard/workflows/{workflow.pk}/")
    page.get_by_label("Sample payload").fill("{n: 1")
    page.get_by_role("button", name="Test with payload").click()
    expect(page.locator("#field-test-payload .field-errors")).to_contain_text("valid JSON")
    page.screenshot(path=str(artifacts / "dry-run-error.png"), full_page=True)

    page.get_by_label("Sample payload").fill('{"n": 3}')
    page.get_by_role("button", name="Test with payload").click()
    expect(page.locator("#dry-run-note")).to_contain_text("nothing was sent and nothing was saved")
    expect(page.locator("#dry-step-calc .badge")).to_have_text("would run")
    expect(page.locator("#dry-step-post")).to_contain_text("Has side effects")
    expect(page.locator("#dry-step-big .badge")).to_have_text("would skip")
    page.screenshot(path=str(artifacts / "dry-run-report.png"), full_page=True)
    assert accessibility_problems(page) == []
    assert not AutomationExecution.objects.exists()


def test_a_workflow_is_restored_to_an_earlier_revision(page, staff, artifacts):
    workflow = workflow_with_three_revisions(staff)
    sign_in(page, "staff")
    page.goto(f"/dashboard/workflows/{workflow.pk}/")
    expect(page.locator("#revision-2")).to_contain_text("Greet by name")
    page.screenshot(path=str(artifacts / "workflow-revisions-section.png"), full_page=True)
    page.get_by_role("link", name="All 3 revisions; compare any two").click()
    page.get_by_label("From revision").fill("1")
    page.get_by_role("button", name="Compare").click()
    expect(page.locator(".diff-split")).to_contain_text("Hello {{ trigger.name }}")
    page.screenshot(path=str(artifacts / "workflow-revisions.png"), full_page=True)
    assert accessibility_problems(page) == []

    page.get_by_role("link", name="Restore revision 1").click()
    expect(page.locator("h1")).to_contain_text("Restore revision 1")
    page.get_by_label("Change note").fill("Plain greeting again")
    page.screenshot(path=str(artifacts / "revision-restore-confirm.png"), full_page=True)
    assert accessibility_problems(page) == []
    page.get_by_role("button", name="Restore revision 1").click()

    expect(page.locator(".messages")).to_contain_text("recorded as revision 4")
    expect(page.locator("#revision-4")).to_contain_text("Plain greeting again")
    workflow.refresh_from_db()
    assert (workflow.name, workflow.actions) == ("Greeter", greeting("Hello"))
    assert WorkflowRevision.objects.get(workflow=workflow, number=4).created_by == staff


def test_the_widget_refreshes_itself_without_a_reload(page, transactional_db, settings, artifacts):
    settings.DASHBOARD_WIDGET_REFRESH_S = 1
    UserFactory(username="reader")
    WorkflowFactory(name="One")
    sign_in(page, "reader", next_url="/dashboard/widget/")
    expect(page.locator("#widget-active")).to_contain_text("1 of 1")
    first_update = page.locator("#widget-updated").get_attribute("datetime")
    page_is_not_reloaded(page)

    WorkflowFactory(name="Two")
    expect(page.locator("#widget-active")).to_contain_text("2 of 2", timeout=10_000)
    assert page.locator("#widget-updated").get_attribute("datetime") != first_update
    assert_same_document(page)
    page.screenshot(path=str(artifacts / "widget.png"), full_page=True)
    assert accessibility_problems(page) == []


def test_the_widget_can_be_framed_by_a_page_of_the_same_site(page, transactional_db):
    UserFactory(username="reader")
    sign_in(page, "reader", next_url="/dashboard/widget/")
    page.evaluate(FRAME_JS, "/dashboard/widget/?embed=1")
    frame = page.frame_locator("iframe#embedded")
    expect(frame.locator(".widget-title")).to_contain_text("System status")
    expect(frame.locator(".topbar")).to_be_hidden()


def test_every_tab_fits_a_phone_screen(page, staff, artifacts):
    dashboard_data_seed(staff)
    sign_in(page, "staff")
    page.set_viewport_size({"width": 390, "height": 844})
    for _label, slug in TABS:
        page.goto(f"/dashboard/{'' if slug == 'workflows' else slug + '/'}")
        expect(page.locator("#stats")).to_contain_text("System health")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        page.screenshot(path=str(artifacts / f"{slug}-phone.png"), full_page=True)
        wide = page.evaluate(WIDE_JS)
        assert overflow <= 0, f"{slug} scrolls sideways by {overflow}px: {wide}"


def test_the_approval_dry_run_and_revision_pages_fit_a_phone_screen(page, staff, artifacts):
    workflow = workflow_with_three_revisions(staff)
    execution = execution_waiting_for_approval()
    sign_in(page, "staff")
    page.set_viewport_size({"width": 390, "height": 844})
    pages = {
        "execution-approval": f"/dashboard/executions/{execution.pk}/",
        "workflow-detail": f"/dashboard/workflows/{workflow.pk}/",
        "workflow-revisions": f"/dashboard/workflows/{workflow.pk}/revisions/",
        "revision-restore": f"/dashboard/workflows/{workflow.pk}/revisions/1/restore/",
        "dry-run": f"/dashboard/workflows/{workflow.pk}/dry-run/",
    }
    for name, url in pages.items():
        page.goto(url)
        expect(page.locator("#stats")).to_contain_text("System health")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        page.screenshot(path=str(artifacts / f"{name}-phone.png"), full_page=True)
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px: {page.evaluate(WIDE_JS)}"
        assert accessibility_problems(page) == [], name


def test_a_plain_user_sees_the_staff_only_page(page, transactional_db):
    UserFactory(username="reader")
    sign_in(page, "reader")
    response = page.goto("/dashboard/alerts/")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("Staff only")
