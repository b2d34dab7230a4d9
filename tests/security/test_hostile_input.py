"""Hostile input never makes the server answer 5xx.

Hypothesis sends bodies and headers built to break parsers — nesting far past any recursion
limit, numbers too large for a float or for Python's integer parser, NUL characters, unpaired
surrogates, invalid UTF-8, YAML alias bombs and self-references, wrong and malformed content
types, non-ASCII and NUL header values — to every anonymous endpoint (webhook triggers signed
and unsigned, health, unmatched paths), to every write operation of the OpenAPI schema as
staff, to the workflow import (JSON and YAML), and to the dashboard's forms that take JSON.

Every example runs in a savepoint that is rolled back, so each meets the same objects. Run on
PostgreSQL, a NUL character or unpaired surrogate that reached a text or jsonb column would be a
database error, hence a 5xx here; the tests at the end name each path a NUL could take and
require its 400.
"""

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.conftest import API, World, operation_url, schema_operations, world_create
from workflows.models import AutomationExecution, AutomationWorkflow
from workflows.services.workflows import workflow_update

EXAMPLES = 150
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

# --- What hostile input looks like ---------------------------------------------------------------

DEPTHS = st.sampled_from([65, 100, 900, 5_000, 100_000])


def _nested(depth: int, kind: str) -> str:
    if kind == "arrays":
        return "[" * depth
    if kind == "closed":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


NESTED = st.builds(_nested, DEPTHS, st.sampled_from(["arrays", "closed", "objects"]))
NASTY_JSON = st.sampled_from(
    [
        "1e999", "-1e999", '{"x": 1e999}', '{"x": [1E+400]}', '{"x": NaN}', '{"x": -Infinity}',
        "9" * 5_000, '{"n": ' + "9" * 4_000 + "}", '{"n": ' + "9" * 4_400 + "}",
        '{"n": -' + "1" * 30 + "}", '{"x": "\\u0000"}', '{"a\\u0000": 1}', '"\\u0000"',
        '{"x": "\\ud800"}', '{"x": ["\\udfff"]}', '{"\\udbff": 0}', '{"x": "\\ud83d\\ude00"}',
        "[]", "null", '""', "true", "{", '{"a": }', "{'a': 1}", " ", "\ufeff{}",
    ]
)  # fmt: skip
# Text that Hypothesis builds with every code point, unpaired surrogates and NUL included.
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), ANY_TEXT
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT, children, max_size=4)
    ),
    max_leaves=12,
)
# Names the write endpoints read, so a hostile value reaches real fields, not only the parser.
FIELDS = st.sampled_from(
    [
        "name", "description", "trigger", "actions", "schedule", "payload", "input", "events",
        "workflow", "workflow_type", "is_active", "content", "title", "excerpt", "credentials",
        "config", "webhook_url", "platform", "article_id", "version_number", "api_calls",
        "dependencies", "retry_strategy", "recipients", "channel", "connection", "comment",
        "workflows", "version", "change_note", "max_concurrency", "webhook_secret", "slug",
    ]
)  # fmt: skip


def _in_field(field: str, value_text: str) -> str:
    return "{" + json.dumps(field) + ": " + value_text + "}"


def _dumped(value: Any) -> str:
    return json.dumps(value)  # ensure_ascii: unpaired surrogates become \udxxx escapes


JSON_TEXTS = st.one_of(
    NESTED,
    NASTY_JSON,
    st.builds(_in_field, FIELDS, st.one_of(NESTED, NASTY_JSON, JSON_VALUES.map(_dumped))),
    JSON_VALUES.map(_dumped),
)
YAML_TEXTS = st.sampled_from(
    [
        "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
        + "".join(
            f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]\n"
            for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "&a [*a]",
        "a: &a {b: *a}",
        "workflows: &w [*w]",
        'workflows:\n  - name: x\n    description: "\\0"\n',
        'workflows:\n  - name: "\\ud800"\n',
        "workflows:\n  - name: x\n    max_concurrency: .inf\n",
        "workflows:\n  - name: x\n    max_concurrency: 1" + "0" * 5_000 + "\n",
        "workflows: " + "[" * 10_000,
        "workflows: " + "{a: " * 1_000 + "1" + "}" * 1_000,
        "!!python/object/apply:os.system ['true']",
        "workflows: !!binary AAAA",
        "workflows:\n  - name: x\n    when: 2025-01-01\n",
        "--- a\n--- b\n",
        "? [a, b]\n: c\n",
        "\t\x00",
    ]
)


def _encoded(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


BODIES = st.one_of(
    JSON_TEXTS.map(_encoded),
    YAML_TEXTS.map(_encoded),
    st.binary(max_size=64),
    st.sampled_from(
        [
            b"",
            b"\x00",
            b'{"a": 1}\x00',
            b"\xff\xfe{\x00}\x00",
            b'{"a": "\xc3"}',
            b"\xc3\x28",
            b"a=%00&b=%FF",
            b"--x\r\nContent-Disposition: form-data\r\n\r\n\x00\r\n--x--",
        ]
    ),
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json", "application/json; charset=utf-8", "application/json; charset=bogus",
        "application/json; charset=utf-16", "text/plain", "application/xml", "application/yaml",
        "application/x-www-form-urlencoded", "multipart/form-data",
        "multipart/form-data; boundary=x", "application/vnd.api+json", "", "*/*", "é/json",
    ]
)  # fmt: skip


def _as_wsgi(text: str) -> str:
    """A header value as a WSGI server hands it over: the bytes read as Latin-1."""
    return text.encode("utf-8", "surrogatepass").decode("latin-1")


HEADER_VALUES = st.one_of(
    st.sampled_from(
        [
            "t=¹,v1=" + "a" * 64,
            "t=1,v1=é",
            "sha256=é",
            "sha256=" + "é" * 64,
            "t=٣,v1=00",
            "t=" + "9" * 400 + ",v1=" + "0" * 64,
            "t=-1,v1=zz",
            ",,,",
            "=",
            "t=,v1=",
            "sha256=",
            "v1=" + "a" * 64,
            "\x00",
            "a\x00b",
            "é" * 300,
            "x" * 5_000,
            "Bearer é",
            "Bearer \x00",
        ]
    ),
    ANY_TEXT.map(_as_wsgi),
)
HEADER_NAMES = st.sampled_from(
    [
        "HTTP_X_SIGNATURE", "HTTP_X_HUB_SIGNATURE_256", "HTTP_IDEMPOTENCY_KEY",
        "HTTP_X_DELIVERY_ID", "HTTP_X_GITHUB_DELIVERY", "HTTP_X_GITHUB_EVENT",
        "HTTP_AUTHORIZATION", "HTTP_ACCEPT", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO",
        "HTTP_ORIGIN", "HTTP_USER_AGENT",
    ]
)  # fmt: skip
HEADERS = st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=4)
QUERIES = st.sampled_from(
    ["", "?dry_run=true", "?wait=1e999", "?wait=nan", "?page=99999999999999999999", "?a=%00",
     "?a=%ED%A0%80", "?search=%FF", "?page_size=-1", "?" + "a=1&" * 2_000]
)  # fmt: skip


# --- Sending -------------------------------------------------------------------------------------


@pytest.fixture
def fuzz_world(db) -> World:
    world = world_create()
    # A second webhook, signed, so signature parsing meets every hostile header.
    signed = world_create_signed_hook(world)
    world.ids["signed_token"] = signed
    world.ids["notifications"] = world.notification_of["staff"]
    return world


def world_create_signed_hook(world: World) -> str:
    workflow = AutomationWorkflow.objects.get(pk=world.ids["workflows"])
    workflow = workflow_update(
        workflow=workflow, data={"webhook_secret": "s" * 24}, user=world.staff
    )
    return workflow.webhook_token


@pytest.fixture
def rolled_back() -> Callable[[Callable[[], Any]], Any]:
    """Runs one example inside a savepoint that is then rolled back."""

    def run(send: Callable[[], Any]) -> Any:
        with transaction.atomic():
            try:
                return send()
            finally:
                transaction.set_rollback(True)

    return run


def _client(role: str, world: World) -> Client:
    client = Client(raise_request_exception=False)
    if role == "staff":
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {world.staff_token}"
    elif role == "staff_session":
        client.force_login(world.staff)
    return client


def _send(
    client: Client,
    method: str,
    url: str,
    body: bytes,
    content_type: str,
    headers: dict[str, str],
) -> int:
    extra = {key: value for key, value in headers.items() if key != "HTTP_AUTHORIZATION"}
    if "HTTP_AUTHORIZATION" in headers and not client.defaults.get("HTTP_AUTHORIZATION"):
        extra["HTTP_AUTHORIZATION"] = headers["HTTP_AUTHORIZATION"]
    response = client.generic(method.upper(), url, body, content_type=content_type, **extra)
    return response.status_code


def _anonymous_urls(world: World) -> list[tuple[str, str]]:
    hooks = [f"{API}hooks/{world.ids['token']}", f"{API}hooks/{world.ids['signed_token']}"]
    return [
        *(("post", url) for url in hooks),
        ("put", hooks[0]),
        ("post", f"{API}hooks/unknown-token"),
        ("post", f"{API}health"),
        ("delete", f"{API}health"),
        ("post", f"{API}no-such-endpoint"),
        ("patch", "/no-such-page/"),
        ("post", "/api/"),
        ("post", "/dashboard/login/"),
    ]


# One hostile request: which endpoint (an index into the test's list), body, type, headers, query.
HOSTILE_REQUEST = {
    "target": st.integers(min_value=0, max_value=10_000),
    "body": BODIES,
    "content_type": CONTENT_TYPES,
    "headers": HEADERS,
    "query": QUERIES,
}


@given(**HOSTILE_REQUEST)
@FUZZ
def test_no_anonymous_request_gets_a_5xx(
    fuzz_world, rolled_back, target, body, content_type, headers, query
):
    urls = _anonymous_urls(fuzz_world)
    method, url = urls[target % len(urls)]

    status = rolled_back(
        lambda: _send(
            _client("anonymous", fuzz_world), method, url + query, body, content_type, headers
        )
    )

    assert status < 500, (method, url, body[:200], content_type, headers)


@pytest.fixture(scope="module")
def write_operations() -> list[Any]:
    return [op for op in schema_operations() if op.method in ("post", "put", "patch")]


@given(**HOSTILE_REQUEST)
@settings(parent=FUZZ, max_examples=EXAMPLES * 3)
def test_no_write_by_staff_gets_a_5xx(
    fuzz_world, rolled_back, write_operations, target, body, content_type, headers, query
):
    operation = write_operations[target % len(write_operations)]
    url = operation_url(operation, fuzz_world.ids)
    headers = {name: value for name, value in headers.items() if name != "HTTP_AUTHORIZATION"}

    status = rolled_back(
        lambda: _send(
            _client("staff", fuzz_world), operation.method, url + query, body, content_type, headers
        )
    )

    assert status < 500, (str(operation), body[:200], content_type, headers)


@given(body=BODIES, content_type=st.sampled_from(["application/json", "application/yaml"]))
@FUZZ
def test_no_workflow_import_gets_a_5xx(fuzz_world, rolled_back, body, content_type):
    url = f"{API}workflows/import"

    status = rolled_back(
        lambda: _send(_client("staff", fuzz_world), "post", url, body, content_type, {})
    )

    assert status < 500, (body[:200], content_type)


# --- The dashboard's forms that take JSON ---------------------------------------------------------


def _dashboard_forms(world: World) -> list[tuple[str, str, dict[str, str]]]:
    """(url, JSON field, the other fields the form needs) for every dashboard form with a JSON
    textarea."""
    workflow, orchestration = world.ids["workflows"], world.ids["orchestrations"]
    workflow_fields = {"name": "Fuzzed", "workflow_type": "custom", "trigger": '{"type": "manual"}',
                       "actions": "[]"}  # fmt: skip
    connection_fields = {"name": "Fuzzed", "platform": "webhook", "config": "{}",
                         "webhook_url": "https://example.com/h", "credentials": "{}"}  # fmt: skip
    return [
        (reverse("dashboard:workflow-run", args=[workflow]), "payload", {}),
        (reverse("dashboard:workflow-dry-run", args=[workflow]), "test-payload", {}),
        (reverse("dashboard:workflow-create"), "trigger", workflow_fields),
        (reverse("dashboard:workflow-create"), "actions", workflow_fields),
        (reverse("dashboard:workflow-edit", args=[workflow]), "actions", workflow_fields),
        (reverse("dashboard:connection-create"), "credentials", connection_fields),
        (reverse("dashboard:connection-create"), "config", connection_fields),
        (reverse("dashboard:orchestration-detail", args=[orchestration]), "input", {}),
    ]


def _form_body(fields: dict[str, str]) -> bytes:
    return "&".join(
        f"{quote(_encoded(name))}={quote(_encoded(value))}" for name, value in fields.items()
    ).encode()


@given(
    target=st.integers(min_value=0, max_value=100),
    value=st.one_of(JSON_TEXTS, YAML_TEXTS, ANY_TEXT),
    raw=st.one_of(st.none(), BODIES),
    content_type=st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "multipart/form-data",
            "application/json",
            "text/plain",
        ]
    ),
)
@FUZZ
def test_no_dashboard_form_that_takes_json_gets_a_5xx(
    fuzz_world, rolled_back, target, value, raw, content_type
):
    forms = _dashboard_forms(fuzz_world)
    url, field, others = forms[target % len(forms)]
    body = raw if raw is not None else _form_body({**others, field: value})
    if raw is None:
        content_type = "application/x-www-form-urlencoded"

    status = rolled_back(
        lambda: _send(_client("staff_session", fuzz_world), "post", url, body, content_type, {})
    )

    assert status < 500, (url, field, body[:200], content_type)


# --- NUL characters never reach the database ------------------------------------------------------


@pytest.fixture
def world(db) -> Iterator[World]:
    yield world_create()


@pytest.mark.parametrize(
    "body",
    ['{"name": "a\\u0000b", "actions": []}', '{"name": "ok", "description": "\\u0000"}',
     '{"name": "ok", "actions": [], "trigger": {"type": "manual", "\\u0000": 1}}'],
)  # fmt: skip
def test_a_nul_in_a_json_body_is_answered_400_before_any_write(body, world: World):
    response = world.client("staff").generic(
        "POST", f"{API}workflows", body.encode(), content_type="application/json"
    )

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_a_nul_in_a_webhook_body_is_answered_400(world: World):
    response = Client().post(
        f"{API}hooks/{world.ids['token']}", b'{"x": "\\u0000"}', content_type="application/json"
    )

    assert response.status_code == 400


def test_a_nul_in_a_webhook_text_body_is_answered_400(world: World):
    response = Client().post(
        f"{API}hooks/{world.ids['token']}", b"plain \x00 text", content_type="text/plain"
    )

    assert response.status_code == 400


@pytest.mark.parametrize("header", ["HTTP_IDEMPOTENCY_KEY", "HTTP_X_DELIVERY_ID"])
def test_a_nul_in_a_delivery_id_header_is_answered_400(header, world: World):
    response = Client().post(
        f"{API}hooks/{world.ids['token']}", b"{}", content_type="application/json",
        **{header: "key\x00"},
    )  # fmt: skip

    assert response.status_code == 400


def test_a_nul_in_a_yaml_document_is_answered_400(world: World):
    document = 'workflows:\n  - name: "bad\\0name"\n    actions: []\n'

    response = world.client("staff").generic(
        "POST", f"{API}workflows/import", document.encode(), content_type="application/yaml"
    )

    assert response.status_code == 400
    assert "NUL" in json.dumps(response.json())


def test_a_nul_in_a_dashboard_form_field_is_answered_400(world: World):
    client = Client()
    client.force_login(world.staff)
    url = reverse("dashboard:workflow-create")

    response = client.post(
        url, _form_body({"name": "a\x00b", "workflow_type": "custom", "actions": "[]"}),
        content_type="application/x-www-form-urlencoded",
    )  # fmt: skip

    assert response.status_code == 400


def test_a_nul_escaped_in_a_dashboard_json_field_is_refused(world: World):
    client = Client()
    client.force_login(world.staff)
    url = reverse("dashboard:workflow-run", args=[world.ids["workflows"]])

    response = client.post(url, {"payload": '{"x": "\\u0000"}'})

    assert response.status_code == 400
    assert not AutomationExecution.objects.filter(trigger_payload__has_key="x").exists()


def test_a_nul_escaped_in_an_admin_json_field_is_answered_400_before_the_admin_runs(world: World):
    client = Client()
    client.force_login(world.staff)

    response = client.post(
        "/admin/workflows/automationworkflow/add/",
        {"name": "Admin", "actions": '[{"id": "a\\u0000"}]', "trigger": "{}"},
    )

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]
