"""What a client generator and a strict validator need from the document (config/openapi.py)."""

import pytest

METHODS = ("get", "put", "post", "delete", "patch")
API = "/api/workflow-orchestration"
WEBHOOK_HEADERS = [
    "X-Signature", "X-Hub-Signature-256", "X-Delivery-Id", "X-GitHub-Delivery", "X-GitHub-Event",
    "Idempotency-Key", "X-Gitlab-Token", "Stripe-Signature", "X-Slack-Signature",
    "X-Slack-Request-Timestamp", "X-Ghost-Signature",
]  # fmt: skip
APPS = {"workflows", "alerts", "versioning", "orchestration", "integrations", "analytics"}


def operations(document):
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def schemas_in(node):
    """Every dict inside ``node``."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from schemas_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from schemas_in(value)


def test_every_operation_has_a_summary(document):
    assert [name for name, operation in operations(document) if not operation.get("summary")] == []


def test_every_operation_has_its_apps_tag_declared_with_a_description(document):
    declared = {tag["name"]: tag.get("description") for tag in document["tags"]}
    assert set(declared) == APPS
    assert all(declared.values())
    used = {tuple(operation["tags"]) for _name, operation in operations(document)}
    assert {tags[0] for tags in used} == APPS
    assert all(len(tags) == 1 for tags in used)


def test_operations_are_tagged_by_the_app_that_serves_them(document):
    paths = document["paths"]
    assert paths[f"{API}/connections"]["get"]["tags"] == ["integrations"]
    assert paths[f"{API}/hooks/{{token}}"]["post"]["tags"] == ["workflows"]
    assert paths[f"{API}/versions/{{article_id}}"]["get"]["tags"] == ["versioning"]


def test_no_path_in_the_document_ends_with_a_slash(document):
    assert [path for path in document["paths"] if path.endswith("/")] == []


@pytest.mark.django_db
def test_the_api_still_answers_a_path_with_the_slash(api):
    assert api.get(f"{API}/connections/").status_code == 200
    assert api.get(f"{API}/connections").status_code == 200


def test_nullable_is_always_beside_a_type_and_never_beside_allof(document):
    nullable = [schema for schema in schemas_in(document) if schema.get("nullable") is True]
    assert nullable
    assert [schema for schema in nullable if "allOf" in schema or "type" not in schema] == []


def test_a_nullable_object_is_written_out_where_it_was_a_reference(document):
    detail = document["components"]["schemas"]["ExecutionDetail"]["properties"]
    pin = detail["article_version"]
    assert pin["type"] == "object"
    assert pin["nullable"] is True
    assert set(pin["properties"]) == {"article_id", "version_number"}


def test_every_error_response_has_a_json_body(document):
    bare = [
        f"{name} {status}"
        for name, operation in operations(document)
        for status, response in operation["responses"].items()
        if status[0] in "45" and "application/json" not in response.get("content", {})
    ]
    assert bare == []


def test_a_429_says_when_to_come_back(document):
    for _name, operation in operations(document):
        assert "Retry-After" in operation["responses"]["429"]["headers"]


@pytest.fixture
def webhook(document):
    return document["paths"][f"{API}/hooks/{{token}}"]["post"]


def test_the_webhook_documents_each_header_senders_send_as_optional(webhook):
    headers = {p["name"]: p for p in webhook["parameters"] if p["in"] == "header"}
    assert sorted(headers) == sorted(WEBHOOK_HEADERS)
    assert all(
        not header.get("required") and header.get("description") for header in headers.values()
    )


def test_the_webhook_documents_every_answer_with_its_body(webhook):
    responses = webhook["responses"]
    assert {"200", "202", "400", "401", "404", "409", "413", "429"} <= set(responses)
    accepted = responses["202"]["content"]["application/json"]["schema"]
    assert accepted == {"$ref": "#/components/schemas/WebhookAccepted"}
    for status in ("400", "401", "404", "409", "413", "429"):
        body = responses[status]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/Error"}, status


def test_the_webhook_is_documented_as_anonymous(webhook):
    assert {} in webhook["security"]


def test_conflicts_and_accepted_retries_are_documented(document):
    paths = document["paths"]
    assert "409" in paths[f"{API}/articles"]["post"]["responses"]
    assert "409" in paths[f"{API}/articles/{{id}}"]["patch"]["responses"]
    assert "202" in paths[f"{API}/executions/{{id}}/retry"]["post"]["responses"]
