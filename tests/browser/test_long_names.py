"""A 200-character name without a space wraps where it is shown (the workflow list, the alerts
tab, the widget) instead of pushing the row's buttons off the screen."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.factories import AlertFactory, NotificationFactory, UserFactory, WorkflowFactory

LONG = "Unbroken" * 25
WIDTHS = (1280, 390)


@pytest.fixture
def staff(transactional_db):
    return UserFactory(username="staff", is_staff=True)


def right_edge(page, selector: str) -> float:
    return float(page.eval_on_selector(selector, "(el) => el.getBoundingClientRect().right"))


def sideways(page) -> int:
    return int(
        page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_a_long_unbroken_name_wraps_on_every_page_that_shows_it(page, staff, width, artifacts):
    workflow = WorkflowFactory(name=LONG)
    AlertFactory(name=LONG, workflow=workflow)
    NotificationFactory(user=staff, title=LONG)
    sign_in(page, "staff")
    page.set_viewport_size({"width": width, "height": 900})
    pages = {
        "workflows": ("/dashboard/", ".row-actions"),
        "alerts": ("/dashboard/alerts/", "#notifications-heading"),
        "widget": ("/dashboard/widget/", "#widget-workflows"),
        "workflow-detail": (f"/dashboard/workflows/{workflow.pk}/", "h1"),
    }
    for name, (url, selector) in pages.items():
        page.goto(url)
        expect(page.get_by_text(LONG).first).to_be_visible()
        page.screenshot(path=str(artifacts / f"{name}-{width}.png"), full_page=True)
        assert sideways(page) <= 0, name
        if width > 640:  # on a phone a table scrolls inside its own box, by design
            assert right_edge(page, selector) <= width, name
