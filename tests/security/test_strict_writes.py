"""Strict writes: every write endpoint refuses keys it does not know, naming each (and the field
to use for the seed drawing's camelCase names), and multi-line text is stored as sent."""

import pytest

from tests.security.conftest import API, World, operation_url, schema_operations
from versioning.models import ContentVersion
from workflows.models import AutomationWorkflow

# Bodies that are data, not parameters: a trigger payload may hold any key; Slack's
# interactivity form is Slack's, and is refused unread unless Slack signed it.
FREE_FORM = {
    "workflows/{id}/execute",
    "workflows/{id}/dry-run",
    "workflows/{workflow_id}/draft/dry-run",
    "hooks/{token}",
    "integrations/slack/{connection_id}/interactions",
}
WRITES = [
    operation
    for operation in schema_operations()
    if operation.method in ("post", "put", "patch") and operation.pattern not in FREE_FORM
]


@pytest.fixture
def staff(world: World):
    world.ids["notifications"] = world.notification_of["staff"]
    return world.client("staff")


@pytest.mark.parametrize("operation", WRITES, ids=str)
def test_every_write_endpoint_refuses_an_unknown_key_by_name(operation, world: World, staff):
    url = operation_url(operation, world.ids)

    response = getattr(staff, operation.method)(
        url, {"surely_not_a_field": 1, "neither_this": 2}, format="json"
    )

    assert response.status_code == 400, response.content
    assert "surely_not_a_field" in response.content.decode()
    assert "neither_this" in response.content.decode()


def test_seed_names_on_a_workflow_are_refused_with_the_field_to_use(world: World, staff):
    body = {"name": "Seeded", "workflowType": "monitoring", "isActive": False, "actions": []}

    response = staff.post(f"{API}workflows", body, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "workflowType": ["Unknown field; use workflow_type."],
        "isActive": ["Unknown field; use is_active."],
    }
    assert not AutomationWorkflow.objects.filter(name="Seeded").exists()


@pytest.mark.parametrize(
    ("path", "body", "key", "use"),
    [
        ("alerts", {"name": "a", "channel": "in_app", "workflowId": 1}, "workflowId", "workflow"),
        ("versions", {"articleId": 1}, "articleId", "article_id"),
        ("connections", {"name": "c", "platform": "webhook", "webhookUrl": "https://x.example"},
         "webhookUrl", "webhook_url"),
        ("workflows", {"name": "w", "webhookUrl": "https://x.example"}, "webhookUrl",
         "webhook_url"),
        ("orchestrations", {"name": "o", "apiCalls": []}, "apiCalls", "api_calls"),
        ("articles", {"title": "t", "metaDescription": "m"}, "metaDescription",
         "meta_description"),
        ("workflows", {"name": "w", "avgExecutionTime": 3}, "avgExecutionTime",
         "avg_execution_time_ms"),
    ],
)  # fmt: skip
def test_a_camel_case_seed_name_says_which_field_to_use(path, body, key, use, world, staff):
    response = staff.post(f"{API}{path}", body, format="json")

    assert response.status_code == 400
    assert response.json()[key] == [f"Unknown field; use {use}."]


def test_a_webhook_connection_with_secret_instead_of_signing_secret_is_refused(world, staff):
    body = {"name": "Signed", "platform": "webhook", "webhook_url": "https://x.example/h",
            "credentials": {"secret": "a-signing-secret-0123"}}  # fmt: skip

    response = staff.post(f"{API}connections", body, format="json")

    assert response.status_code == 400
    assert response.json()["credentials"] == {
        "secret": ["Unknown credentials key; use signing_secret."]
    }


def test_a_verb_without_parameters_refuses_a_body_with_keys(world: World, staff):
    url = f"{API}executions/{world.ids['executions']}/cancel"

    response = staff.post(url, {"force": True}, format="json")

    assert response.status_code == 400
    assert response.json() == {"force": ["Unknown field."]}


def test_a_workflow_document_names_the_field_to_use(world: World, staff):
    document = {"workflows": [{"name": "Doc", "actions": [], "workflowType": "custom"}]}

    response = staff.post(f"{API}workflows/import", document, format="json")

    assert response.status_code == 400
    assert response.json() == {"workflows[0].workflowType": ["Unknown field; use workflow_type."]}


# --- Text stored as sent ------------------------------------------------------------------------

CONTENT = "    indented code block\n\nA paragraph.\n\n"
CHANGED = "    indented code block\n\nA paragraph.\n\n\n"


def test_article_text_is_stored_and_versioned_byte_for_byte(world: World, staff):
    created = staff.post(
        f"{API}articles",
        {"title": "Code", "content": CONTENT, "excerpt": "  Lead.\n"},
        format="json",
    )
    assert created.status_code == 201, created.content
    article_id = created.json()["id"]

    assert staff.get(f"{API}articles/{article_id}").json()["content"] == CONTENT
    assert staff.get(f"{API}articles/{article_id}").json()["excerpt"] == "  Lead.\n"
    first = ContentVersion.objects.get(article_id=article_id, version_number=1)
    assert first.content_snapshot["content"] == CONTENT


def test_a_change_of_trailing_newlines_is_a_new_version_with_a_diff(world: World, staff):
    article_id = staff.post(
        f"{API}articles", {"title": "Code", "content": CONTENT}, format="json"
    ).json()["id"]

    response = staff.patch(f"{API}articles/{article_id}", {"content": CHANGED}, format="json")

    assert response.status_code == 200
    version = staff.get(f"{API}versions/{article_id}/2").json()
    assert version["content_snapshot"]["content"] == CHANGED
    assert version["diff_data"]["added"] == 1
    assert "+    indented" not in version["diff_data"]["unified"]


def test_a_workflow_description_keeps_its_whitespace(world: World, staff):
    description = "  Steps:\n  1. fetch\n  2. post\n"

    response = staff.post(
        f"{API}workflows", {"name": "Described", "description": description}, format="json"
    )

    assert response.status_code == 201
    assert AutomationWorkflow.objects.get(name="Described").description == description


def test_a_blank_name_is_still_refused(world: World, staff):
    response = staff.post(f"{API}workflows", {"name": "   "}, format="json")

    assert response.status_code == 400
    assert "name" in response.json()


# --- The seed drawing's paths -------------------------------------------------------------------

SEED_ROUTES = [
    ("get", "workflows"), ("post", "workflows"), ("get", "workflows/{workflows}"),
    ("put", "workflows/{workflows}"), ("delete", "workflows/{workflows}"),
    ("post", "workflows/{workflows}/execute"), ("get", "workflows/{workflows}/stats"),
    ("get", "stats"), ("post", "alerts"), ("post", "versions"), ("get", "versions/{article_id}"),
    ("post", "versions/{article_id}/revert"), ("post", "orchestrations"),
    ("post", "orchestrations/{orchestrations}/execute"), ("post", "connections"),
    ("post", "connections/{connections}/verify"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path"), SEED_ROUTES)
def test_every_path_of_the_seed_drawing_is_served(method, path, world: World, staff):
    url = API + path.format(**world.ids)

    response = getattr(staff, method)(url, {}, format="json")

    assert response.status_code not in (404, 405), (method, url, response.content)
