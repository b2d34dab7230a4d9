"""Definitions are validated on save: 400 with field messages naming the call, nothing written."""

import pytest

from orchestration.models import APIOrchestration

pytestmark = pytest.mark.django_db

URL = "/api/workflow-orchestration/orchestrations"


def definition(*calls, **fields):
    return {"name": "Checks", "type": "sequential", "api_calls": list(calls), **fields}


def call(call_id, **extra):
    return {"id": call_id, "url": f"https://api.example.com/{call_id}", **extra}


def rejected(api, body) -> dict:
    response = api.post(URL, body, format="json")
    assert response.status_code == 400, response.data
    assert APIOrchestration.objects.count() == 0
    return response.json()


def test_a_cycle_is_refused_and_the_error_names_it(api):
    errors = rejected(
        api,
        definition(
            call("a"), call("b"), call("c"), dependencies={"a": ["c"], "b": ["a"], "c": ["b"]}
        ),
    )
    assert errors == {"dependencies": {"a": ["Dependency cycle: a → c → b → a."]}}


def test_a_call_depending_on_itself_is_a_cycle(api):
    errors = rejected(api, definition(call("a"), dependencies={"a": ["a"]}))
    assert errors["dependencies"]["a"] == ["Dependency cycle: a → a."]


def test_an_unknown_dependency_is_refused_naming_the_call(api):
    errors = rejected(api, definition(call("a"), call("b"), dependencies={"b": ["zz"]}))
    assert errors == {"dependencies": {"b": ["Depends on unknown call 'zz'. Known calls: a, b."]}}


def test_dependencies_of_an_unknown_call_are_refused(api):
    errors = rejected(api, definition(call("a"), dependencies={"ghost": ["a"]}))
    assert errors["dependencies"]["ghost"] == ["Unknown call 'ghost'. Known calls: a."]


def test_a_malformed_template_is_refused_naming_the_call_and_field(api):
    errors = rejected(
        api, definition(call("a"), call("b", method="POST", body={"x": "{{ calls.a.body. }}"}))
    )
    assert list(errors["api_calls"]) == ["b"]
    [message] = errors["api_calls"]["b"]["body.x"]
    assert message.startswith("template syntax error")


def test_a_malformed_condition_is_refused(api):
    body = definition(call("a", condition="input.x >"), type="conditional")
    errors = rejected(api, body)
    assert errors["api_calls"]["a"]["condition"][0].startswith("template syntax error")


def test_a_condition_outside_a_conditional_orchestration_is_refused(api):
    errors = rejected(api, definition(call("a", condition="input.go")))
    assert "Only conditional orchestrations" in errors["api_calls"]["a"]["condition"][0]


def test_duplicate_ids_are_refused(api):
    errors = rejected(api, definition(call("a"), call("a")))
    assert errors["api_calls"]["#1"]["id"] == ["Duplicate call id 'a'."]


def test_a_bad_call_id_is_keyed_by_its_position(api):
    errors = rejected(api, definition(call("ok"), call("not ok")))
    assert list(errors["api_calls"]) == ["#1"]
    assert "id" in errors["api_calls"]["#1"]


def test_an_unknown_method_is_refused(api):
    errors = rejected(api, definition(call("a", method="FETCH")))
    assert "method" in errors["api_calls"]["a"]


def test_unknown_call_keys_are_refused(api):
    errors = rejected(api, definition(call("a", retries=3)))
    assert errors["api_calls"]["a"]["retries"][0].startswith("Unknown key.")


def test_a_bad_jmespath_extract_is_refused(api):
    errors = rejected(api, definition(call("a", extract={"n": "items[?"})))
    assert "invalid JMESPath" in errors["api_calls"]["a"]["extract"][0]


def test_at_most_a_hundred_calls(api):
    errors = rejected(api, definition(*[call(f"c{n}") for n in range(101)]))
    assert errors == {"api_calls": ["At most 100 calls (got 101)."]}


def test_at_least_one_call(api):
    errors = rejected(api, definition())
    assert errors == {"api_calls": ["Must be a non-empty list of calls."]}


def test_a_malformed_retry_strategy_is_refused_by_field(api):
    strategy = {"max_attempts": 0, "backoff": "linear", "delay_s": 3600, "retry_on": ["sometimes"]}
    errors = rejected(api, definition(call("a"), retry_strategy=strategy))
    assert set(errors["retry_strategy"]) == {"max_attempts", "backoff", "delay_s", "retry_on"}


def test_an_unknown_type_is_refused(api):
    errors = rejected(api, definition(call("a"), type="fanout"))
    assert "type" in errors


def test_a_patch_is_validated_against_the_stored_definition(api):
    created = api.post(URL, definition(call("a"), call("b")), format="json").json()
    response = api.patch(
        f"{URL}/{created['id']}", {"dependencies": {"a": ["b"], "b": ["a"]}}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["dependencies"]["a"] == ["Dependency cycle: a → b → a."]


def test_an_unknown_connection_is_refused(api):
    errors = rejected(api, definition(call("a", connection=999)))
    assert errors["api_calls"]["a"]["connection"] == ["Connection 999 does not exist."]
