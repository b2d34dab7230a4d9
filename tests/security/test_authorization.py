"""Who may call what (SPEC §10), for every operation the OpenAPI schema lists and every page of
the dashboard's URLconf: a new endpoint or page fails here until the matrix says who may use it.

Roles: staff (bearer token), a plain signed-in user (by session and by bearer token), a revoked
token, and nobody. Staff may do everything; other signed-in users read stats, activity and their
own notifications; anonymous callers reach only webhook triggers and health.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from rest_framework.response import Response

from tests.security.conftest import (
    World,
    dashboard_pages,
    operation_url,
    schema_operations,
)

# Staff last: it may delete what the others are refused.
ROLES = ("anonymous", "revoked_token", "plain_session", "plain_token", "staff")


@dataclass(frozen=True)
class Access:
    """Which statuses each role may get."""

    name: str
    allows: Callable[[str, int], bool]


def _staff_only(role: str, status: int) -> bool:
    if role == "staff":
        return status not in (401, 403) and status < 500
    return status == (403 if role.startswith("plain") else 401)


def _signed_in(role: str, status: int) -> bool:
    return status == 200 if role in ("staff", "plain_session", "plain_token") else status == 401


def _public_health(role: str, status: int) -> bool:
    return status in (200, 503)


def _webhook(role: str, status: int) -> bool:
    # Anonymous by design: no role is asked for credentials, and the unsigned workflow accepts.
    return status == 202


def _slack_signed(role: str, status: int) -> bool:
    # Anonymous by design, like a webhook, but only a request signed with the Slack app's
    # signing secret acts: an unsigned one is a 401 whoever sends it.
    return status == 401


STAFF = Access("staff only", _staff_only)
SIGNED_IN = Access("any signed-in user (own data)", _signed_in)
PUBLIC = Access("anyone", _public_health)
WEBHOOK = Access("anyone, at the workflow's secret URL", _webhook)
SLACK_SIGNED = Access("anyone, signed with the Slack app's secret", _slack_signed)

# The one table: a path pattern of the schema (below the API root) → its access, for every method
# or per method. A pattern or method missing here fails the test that meets it.
MATRIX: dict[str, Access | dict[str, Access]] = {
    "actions": STAFF,
    "workflows": STAFF,
    "workflows/{id}": STAFF,
    "workflows/{id}/execute": STAFF,
    "workflows/{workflow_id}/stats": STAFF,
    "workflows/{workflow_id}/schedule": STAFF,
    "workflows/{id}/dry-run": STAFF,
    "workflows/{workflow_id}/backfill": STAFF,
    "workflows/{workflow_id}/tests": STAFF,
    "workflows/{workflow_id}/tests/{test_id}": STAFF,
    "workflows/{workflow_id}/tests/run": STAFF,
    "workflows/{workflow_id}/export": STAFF,
    "workflows/{workflow_id}/revisions": STAFF,
    "workflows/{workflow_id}/revisions/{number}": STAFF,
    "workflows/{workflow_id}/revisions/{a}/diff/{b}": STAFF,
    "workflows/{workflow_id}/revisions/{number}/restore": STAFF,
    "workflows/import": STAFF,
    "executions": STAFF,
    "executions/{id}": STAFF,
    "executions/{id}/retry": STAFF,
    "executions/{id}/cancel": STAFF,
    "executions/{id}/approve": STAFF,
    "executions/{id}/reject": STAFF,
    "executions/{id}/replay": STAFF,
    "executions/bulk-replay": STAFF,
    "jobs": STAFF,
    "jobs/{id}": STAFF,
    "jobs/{id}/cancel": STAFF,
    "events": STAFF,
    "workflows/{workflow_id}/draft": STAFF,
    "workflows/{workflow_id}/draft/publish": STAFF,
    "workflows/{workflow_id}/draft/dry-run": STAFF,
    "hooks/{token}": {"post": WEBHOOK},
    "integrations/slack/{connection_id}/interactions": {"post": SLACK_SIGNED},
    "articles": STAFF,
    "articles/{id}": STAFF,
    "articles/{id}/publish": STAFF,
    "versions": STAFF,
    "versions/{article_id}": STAFF,
    "versions/{article_id}/{version_number}": STAFF,
    "versions/{article_id}/revert": STAFF,
    "orchestrations": STAFF,
    "orchestrations/{id}": STAFF,
    "orchestrations/{id}/execute": STAFF,
    "orchestrations/{id}/runs": STAFF,
    "orchestration-runs": STAFF,
    "orchestration-runs/{id}": STAFF,
    "audit": STAFF,
    "connections": STAFF,
    "connections/{id}": STAFF,
    "connections/{id}/verify": STAFF,
    "alerts": STAFF,
    "alerts/{id}": STAFF,
    "alerts/{id}/test": STAFF,
    "alerts/{id}/deliveries": STAFF,
    "notifications": {"get": SIGNED_IN},
    "notifications/{id}/read": {"post": SIGNED_IN},
    "stats": {"get": SIGNED_IN},
    "activity": {"get": SIGNED_IN},
    "health": {"get": PUBLIC},
}

OPERATIONS = schema_operations()


def access_of(pattern: str, method: str) -> Access:
    entry = MATRIX.get(pattern)
    if isinstance(entry, dict):
        entry = entry.get(method)
    if entry is None:
        pytest.fail(f"{method.upper()} {pattern} is not in the authorization matrix: add it")
    return entry


def call(world: World, role: str, operation, url: str) -> Response:
    client = world.client(role)
    body = {} if operation.method in ("post", "put", "patch") else None
    return getattr(client, operation.method)(url, body, format="json")


def values_for(world: World, role: str) -> dict[str, object]:
    """Path values; a notification is always the caller's own (another's is tested below)."""
    owner = "staff" if role == "staff" else "plain"
    return {**world.ids, "notifications": world.notification_of[owner]}


def test_the_schema_lists_the_whole_api():
    assert len(OPERATIONS) >= 55
    assert {str(operation) for operation in OPERATIONS} >= {
        "POST hooks/{token}",
        "GET health",
        "POST connections/{id}/verify",
        "GET stats",
    }


def test_every_pattern_in_the_matrix_is_still_in_the_schema():
    assert set(MATRIX) <= {operation.pattern for operation in OPERATIONS}


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_each_role_gets_only_what_the_spec_allows(operation, world):
    access = access_of(operation.pattern, operation.method)
    wrong = []
    for role in ROLES:
        response = call(world, role, operation, operation_url(operation, values_for(world, role)))
        if not access.allows(role, response.status_code):
            wrong.append(f"{role}: {response.status_code} {response.content[:200]!r}")
    assert not wrong, f"{operation} is {access.name}, but:\n" + "\n".join(wrong)


@pytest.mark.parametrize("role", ["plain_session", "plain_token"])
def test_a_plain_user_lists_only_their_own_notifications(world, role):
    response = world.client(role).get("/api/workflow-orchestration/notifications")

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [world.notification_of["plain"]]
    assert response.json()["unread_count"] == 1


@pytest.mark.parametrize(("role", "owner"), [("plain_token", "other"), ("staff", "plain")])
def test_nobody_marks_another_users_notification_read(world, role, owner):
    notification_id = world.notification_of[owner]

    response = world.client(role).post(
        f"/api/workflow-orchestration/notifications/{notification_id}/read"
    )

    assert response.status_code == 404
    listed = world.client("plain_token").get("/api/workflow-orchestration/notifications").json()
    assert listed["unread_count"] == 1


# --- Dashboard ----------------------------------------------------------------------------------

PAGES = dashboard_pages()
# Pages open to anyone and pages for any signed-in user; every other dashboard page is staff-only.
DASHBOARD_PUBLIC = {"login", "logout"}
DASHBOARD_SIGNED_IN = {"widget", "widget-panel"}
PAGE_VALUES = {
    "workflow_id": "workflows",
    "execution_id": "executions",
    "alert_id": "alerts",
    "connection_id": "connections",
    "article_id": "articles",
    "version_number": "version_number",
    "orchestration_id": "orchestrations",
    "job_id": "jobs",
    "test_id": "test_id",
    "number": "number",
    "a": "a",
    "b": "b",
}


def page_url(world: World, page) -> str:
    kwargs = {}
    for parameter in page.parameters:
        if parameter == "notification_id":
            kwargs[parameter] = world.notification_of["staff"]
        elif parameter in PAGE_VALUES:
            kwargs[parameter] = world.ids[PAGE_VALUES[parameter]]
        else:
            pytest.fail(f"dashboard:{page.name} takes {parameter}: add it to PAGE_VALUES")
    return reverse(f"dashboard:{page.name}", kwargs=kwargs)


def dashboard_client(world: World, role: str) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(world.staff if role == "staff" else world.plain)
    return client


def sent_to_login(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(
        reverse(settings.LOGIN_URL)
    )


def test_the_dashboard_pages_are_discovered_from_the_urlconf():
    # The dashboard may not be installed yet; when it is, its home and widget are found.
    assert not PAGES or {"workflows", "widget"} <= {page.name for page in PAGES}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_each_dashboard_page_is_for_the_people_it_is_meant_for(page, world):
    url = page_url(world, page)
    method = "get"
    if dashboard_client(world, "staff").get(url).status_code == 405:
        method = "post"  # an action: judge who may perform it
    statuses = {}
    for role in ("anonymous", "plain", "staff"):
        response = getattr(dashboard_client(world, role), method)(url)
        statuses[role] = response
    if page.name in DASHBOARD_PUBLIC:
        assert all(response.status_code < 500 for response in statuses.values())
        return
    assert sent_to_login(statuses["anonymous"]), statuses["anonymous"].status_code
    if page.name in DASHBOARD_SIGNED_IN:
        assert statuses["plain"].status_code == 200
    else:
        assert statuses["plain"].status_code == 403
    staff = statuses["staff"].status_code  # an action may fairly answer 404 or 409
    assert staff < 500 and staff not in (401, 403), staff
    assert not sent_to_login(statuses["staff"])
