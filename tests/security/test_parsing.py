"""The bounded readers every untrusted JSON and YAML text goes through (config/parsing.py)."""

import time

import pytest

from core.parsing import InputRefused, json_loads, json_too_deep, yaml_load

BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{name}: &{name} [{','.join(['*' + previous] * 9)}]\n"
    for previous, name in zip("abcdef", "bcdefg", strict=True)
)


def test_json_nested_past_the_limit_is_refused_before_it_is_parsed():
    with pytest.raises(InputRefused, match="deeper than 64"):
        json_loads("[" * 100_000)


def test_json_at_the_limit_is_read():
    assert json_loads("[" * 64 + "]" * 64) is not None


def test_brackets_inside_strings_do_not_count_as_nesting():
    assert not json_too_deep('{"text": "' + "[" * 500 + '\\"' + "{" * 500 + '"}')


@pytest.mark.parametrize("text", ["1e999", '{"x": -1e400}', '{"x": NaN}', "[Infinity]"])
def test_numbers_json_cannot_hold_are_refused(text):
    with pytest.raises(InputRefused):
        json_loads(text)


@pytest.mark.parametrize("text", ['{"x": "\\u0000"}', '{"\\u0000": 1}', '["\\ud800"]'])
def test_text_postgresql_cannot_store_is_refused(text):
    with pytest.raises(InputRefused, match="NUL"):
        json_loads(text)


def test_a_refusal_is_a_value_error_so_existing_handlers_answer_400():
    assert issubclass(InputRefused, ValueError)


def test_a_350_byte_yaml_alias_bomb_is_refused_in_milliseconds():
    assert len(BILLION_LAUGHS) < 400
    started = time.process_time()

    with pytest.raises(InputRefused, match="expands to"):
        yaml_load(BILLION_LAUGHS)

    assert time.process_time() - started < 0.5


@pytest.mark.parametrize("text", ["&a [*a]", "a: &a {b: *a}"])
def test_yaml_that_refers_to_itself_is_refused(text):
    with pytest.raises(InputRefused, match="refers to itself"):
        yaml_load(text)


def test_yaml_nested_past_the_limit_is_refused_before_it_is_composed():
    with pytest.raises(InputRefused, match="deeper than 64"):
        yaml_load("a: " + "[" * 100_000)


def test_modest_aliases_are_read_as_copies():
    assert yaml_load("base: &r {max_attempts: 3}\nx: *r\ny: *r\n") == {
        "base": {"max_attempts": 3},
        "x": {"max_attempts": 3},
        "y": {"max_attempts": 3},
    }


@pytest.mark.parametrize("text", ['a: "\\0"', "a: .inf", "a: .nan", 'a: "\\ud800"'])
def test_yaml_values_json_or_postgresql_cannot_hold_are_refused(text):
    with pytest.raises(InputRefused):
        yaml_load(text)
