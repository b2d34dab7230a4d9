"""One JSON Schema per action type: it validates params at save time and once rendered, it is the
catalogue the API serves, it is the params part of the OpenAPI document, and it writes
docs/actions.md."""

from pathlib import Path

import pytest
from drf_spectacular.generators import SchemaGenerator
from jsonschema import Draft202012Validator
from rest_framework import serializers

from tests.conftest import ROOT
from workflows.actions.registry import ACTION_TYPES, action_get
from workflows.actions.schema import schema_openapi, schema_templated
from workflows.catalogue import action_catalogue_list
from workflows.definition import ACTION_SCHEMA
from workflows.reference import actions_reference_render

BASE = "/api/workflow-orchestration"
# SPEC §4: the params each action type has at least.
SPEC_PARAMS = {
    "publish": {"article_id"},
    "share": {"connections", "message", "article_id", "allow_partial"},
    "monitor": {"url", "expect_status", "max_latency_ms", "contains", "metrics"},
    "optimize": {"article_id", "target_keyword", "apply"},
    "notify": {"channel", "connection", "recipients", "subject", "message", "severity"},
    "api_call": {
        "method", "url", "headers", "query", "body", "connection", "timeout_s",
        "expect_status", "extract",
    },
    "git_commit": {"connection", "repo", "branch", "path", "content", "message", "article_id"},
    "transform": {"values"},
    "orchestrate": {"orchestration", "input"},
}  # fmt: skip
PLATFORMS = {"slack", "telegram", "github", "n8n", "zapier", "webhook", "smtp", "apprise"}


def params_of(schema):
    """Every property, nested ones too, as (name, schema)."""
    for name, part in schema.get("properties", {}).items():
        yield name, part
        yield from params_of(part)


@pytest.mark.parametrize("action_type", ACTION_TYPES)
def test_each_action_type_declares_a_valid_schema_describing_every_param(action_type):
    schema = action_get(action_type).params_schema
    Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    for name, part in params_of(schema):
        assert part.get("description"), f"{action_type}.{name} has no description"
        assert set(part.get("x-connection-platform", [])) <= PLATFORMS


@pytest.mark.parametrize(("action_type", "names"), SPEC_PARAMS.items())
def test_each_schema_covers_the_params_the_spec_lists(action_type, names):
    assert names <= set(action_get(action_type).params_schema["properties"])


@pytest.mark.parametrize("action_type", ACTION_TYPES)
def test_each_example_is_a_valid_action_with_params_the_schema_accepts(action_type):
    executor = action_get(action_type)
    example = executor.example
    assert example["type"] == action_type
    assert not list(Draft202012Validator(ACTION_SCHEMA).iter_errors(example))
    templated = Draft202012Validator(schema_templated(executor.params_schema))
    assert not list(templated.iter_errors(executor.params_normalize(example["params"])))


def test_a_template_stands_in_for_a_number_at_save_time():
    params = {"url": "https://example.com/", "timeout_s": "{{ trigger.wait }}"}
    assert action_get("api_call").validate(params)["timeout_s"] == "{{ trigger.wait }}"


def test_a_string_that_is_no_template_is_refused_where_a_number_is_wanted():
    with pytest.raises(serializers.ValidationError) as caught:
        action_get("api_call").validate({"url": "https://example.com/", "timeout_s": "soon"})
    assert caught.value.detail == {"timeout_s": ["Must be a number or a template ({{ … }})."]}


def test_once_rendered_the_value_must_have_the_real_type():
    with pytest.raises(serializers.ValidationError) as caught:
        action_get("api_call").validate(
            {"url": "https://example.com/", "timeout_s": "soon"}, rendered=True
        )
    assert caught.value.detail == {"timeout_s": ["Must be a number."]}


def test_a_rendered_number_in_text_is_read_as_the_number():
    params = action_get("optimize").validate(
        {"article_id": "7", "apply": "true", "target_keyword": 12}, rendered=True
    )
    assert params == {"article_id": 7, "apply": True, "target_keyword": "12"}


def test_defaults_are_filled_in():
    params = action_get("notify").validate({"channel": "in_app", "message": "hi"})
    assert params == {
        "channel": "in_app",
        "message": "hi",
        "recipients": [],
        "subject": "",
        "severity": "info",
    }


def test_errors_name_nested_fields_and_the_rule_broken():
    with pytest.raises(serializers.ValidationError) as caught:
        action_get("monitor").validate({"metrics": {"max_failure_rate": 2, "queue": 1}})
    assert caught.value.detail == {
        "metrics": {
            "max_failure_rate": [
                "Ensure this value is less than or equal to 1.",
                "Needs workflow_id.",
            ],
            "queue": [
                "Unknown key. Known: max_avg_time_ms, max_failure_rate, max_queued, "
                "window_minutes, workflow_id."
            ],
        }
    }


def test_a_missing_required_param_is_reported_at_its_path_on_save(api):
    definition = {"name": "x", "actions": [{"id": "a", "type": "api_call", "params": {}}]}
    response = api.post(f"{BASE}/workflows", definition, format="json")
    assert response.status_code == 400
    assert response.json() == {"actions": {"0": {"params": {"url": ["This field is required."]}}}}


def test_a_transform_value_name_must_be_an_identifier(api):
    action = {"id": "t", "type": "transform", "params": {"values": {"not ok": 1}}}
    response = api.post(f"{BASE}/workflows", {"name": "x", "actions": [action]}, format="json")
    assert response.status_code == 400
    assert response.json()["actions"]["0"]["params"]["values"] == [
        "Value names must be identifiers (letters, digits, _): not ok."
    ]


# --- the catalogue ----------------------------------------------------------------------------


def test_staff_read_the_catalogue_of_action_types(api):
    response = api.get(f"{BASE}/actions")
    assert response.status_code == 200
    catalogue = {entry["type"]: entry for entry in response.json()}
    assert set(catalogue) == set(ACTION_TYPES)
    transform = catalogue["transform"]
    assert set(transform) == {
        "type", "group", "title", "description", "params_schema", "side_effects", "example",
    }  # fmt: skip
    assert transform["side_effects"] is False
    assert transform["params_schema"] == action_get("transform").params_schema
    git = catalogue["git_commit"]["params_schema"]["properties"]["connection"]
    assert git["x-connection-platform"] == ["github"]


def test_a_plain_user_may_not_read_the_catalogue(plain_api):
    assert plain_api.get(f"{BASE}/actions").status_code == 403


def test_an_anonymous_caller_may_not_read_the_catalogue(client):
    assert client.get(f"{BASE}/actions").status_code == 401


def test_the_catalogue_includes_an_installations_own_action_types(settings):
    settings.ACTION_TYPES_EXTRA = {"leaky": "tests.ops.actions.LeakyAction"}
    action_get.cache_clear()
    try:
        assert "leaky" in {entry["type"] for entry in action_catalogue_list()}
    finally:
        action_get.cache_clear()


# --- the OpenAPI document -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def document():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_a_workflows_actions_are_a_oneof_told_apart_by_type(document):
    schemas = document["components"]["schemas"]
    for name in ("WorkflowRequest", "Workflow", "PatchedWorkflowRequest"):
        items = schemas[name]["properties"]["actions"]["items"]
        assert items == {"$ref": "#/components/schemas/WorkflowAction"}
    action = schemas["WorkflowAction"]
    mapping = action["discriminator"]["mapping"]
    assert action["discriminator"]["propertyName"] == "type"
    assert set(mapping) == set(ACTION_TYPES)
    assert [option["$ref"] for option in action["oneOf"]] == list(mapping.values())
    api_call = schemas["ApiCallAction"]
    assert api_call["properties"]["type"] == {"type": "string", "enum": ["api_call"]}
    assert api_call["properties"]["params"] == {"$ref": "#/components/schemas/ApiCallParams"}


@pytest.mark.parametrize("action_type", ACTION_TYPES)
def test_each_action_types_params_schema_is_in_the_document(document, action_type):
    name = "".join(part.capitalize() for part in action_type.split("_")) + "Params"
    expected = schema_openapi(schema_templated(action_get(action_type).params_schema))
    documented = dict(document["components"]["schemas"][name])
    documented.pop("description")
    assert documented == {key: value for key, value in expected.items() if key != "description"}


def test_a_templated_field_is_documented_as_its_type_or_a_template(document):
    timeout = document["components"]["schemas"]["ApiCallParams"]["properties"]["timeout_s"]
    assert timeout["x-template"] is True
    assert timeout["anyOf"][0]["type"] == "number"
    assert timeout["anyOf"][1]["type"] == "string"


# --- docs/actions.md ----------------------------------------------------------------------------


def test_the_committed_action_reference_is_the_generated_one():
    committed = (Path(ROOT) / "docs" / "actions.md").read_text(encoding="utf-8")
    assert committed == actions_reference_render(), (
        "docs/actions.md is out of date: run python manage.py actions_reference"
    )


@pytest.mark.parametrize("action_type", ACTION_TYPES)
def test_the_reference_documents_every_param_of_every_action(action_type):
    reference = actions_reference_render()
    section = reference.split(f'<a id="{action_type}"></a>')[1].split("<a id=")[0]
    for name, _part in params_of(action_get(action_type).params_schema):
        assert f"`{name}`" in section or f".{name}`" in section


def test_the_readme_links_the_reference_instead_of_listing_params():
    readme = (Path(ROOT) / "README.md").read_text(encoding="utf-8")
    assert "docs/actions.md" in readme
    assert "(`channel`, `connection`, `recipients`" not in readme
