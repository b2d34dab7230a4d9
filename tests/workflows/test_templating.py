import pytest

from workflows.templating import (
    TemplateError,
    condition_check,
    condition_evaluate,
    params_check,
    params_render,
    template_check,
    template_render,
)

CONTEXT = {
    "trigger": {"count": 3, "title": "Hello", "text": "{{ 7 * 7 }}"},
    "steps": {"fetch": {"body": {"items": [1, 2, 3], "id": 42}}},
}


def test_a_single_expression_keeps_its_type():
    assert template_render("{{ steps.fetch.body.id }}", CONTEXT) == 42
    assert template_render("{{ steps.fetch.body.items }}", CONTEXT) == [1, 2, 3]


def test_text_around_an_expression_renders_a_string():
    assert template_render("id={{ steps.fetch.body.id }}", CONTEXT) == "id=42"


def test_plain_strings_come_back_untouched():
    assert template_render("no template here", CONTEXT) == "no template here"


def test_params_render_walks_dicts_and_lists_without_rendering_keys():
    params = {"{{ k }}": ["{{ trigger.count }}", {"t": "{{ trigger.title }}!"}]}
    assert params_render(params, CONTEXT) == {"{{ k }}": [3, {"t": "Hello!"}]}


def test_trigger_data_that_looks_like_a_template_is_never_evaluated():
    assert template_render("{{ trigger.text }}", CONTEXT) == "{{ 7 * 7 }}"
    assert template_render("x {{ trigger.text }}", CONTEXT) == "x {{ 7 * 7 }}"


def test_an_undefined_value_in_params_is_an_error_that_names_it():
    with pytest.raises(TemplateError, match="undefined"):
        template_render("{{ steps.missing.body }}", CONTEXT)


def test_a_syntax_error_is_reported_with_its_line():
    with pytest.raises(TemplateError, match="line 1"):
        template_check("{{ trigger.count + }}")


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ '{0.__class__}'.format(1) }}",
        "{{ '{x}'.format_map({'x': 1}) }}",
        "{{ 'a' * 100000000 }}",
        "{{ 10 ** 100000 }}",
    ],
)
def test_sandbox_escapes_and_bombs_are_refused(source):
    with pytest.raises(TemplateError):
        template_render(source, CONTEXT)


def test_the_attr_filter_is_unavailable():
    with pytest.raises(TemplateError, match="attr"):
        template_check("{{ 'a' | attr('upper') }}")


def test_output_over_the_limit_is_refused(settings):
    settings.TEMPLATE_MAX_OUTPUT_CHARS = 100
    with pytest.raises(TemplateError, match="output"):
        template_render("{% for i in range(1000) %}xx{% endfor %}", CONTEXT)


def test_a_condition_is_one_expression():
    condition_check("trigger.count > 2")
    with pytest.raises(TemplateError):
        condition_check("trigger.count > 2 }} {{ 1")


def test_a_condition_on_a_missing_value_is_false_not_an_error():
    assert condition_evaluate("article.word_count > 300", CONTEXT) is False
    assert condition_evaluate("trigger.count > 2", CONTEXT) is True


def test_params_check_names_the_path_of_each_bad_template():
    errors = params_check({"body": {"id": "{{ x + }}"}, "url": "https://example.com"})
    assert list(errors) == ["body.id"]


# Found by the template corpus (tests/security/test_templates.py).


def test_a_template_nested_deeper_than_python_compiles_is_an_error_not_a_crash():
    with pytest.raises(TemplateError, match="nests too deeply"):
        template_check("{{ " + "(" * 300 + "1" + ")" * 300 + " }}")
    with pytest.raises(TemplateError, match="nests too deeply"):
        condition_check("(" * 300 + "1" + ")" * 300)


def test_loops_that_print_nothing_stop_at_the_render_deadline(settings):
    settings.TEMPLATE_MAX_RENDER_S = 0.2
    source = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    with pytest.raises(TemplateError, match=r"took longer than 0\.2 s"):
        template_render(source, CONTEXT)


@pytest.mark.parametrize(
    "source",
    ["{{ '%999999999d' % 1 }}", "{{ ''.ljust(999999999) }}", "{{ ''|center(width=999999999) }}",
     "{{ [[1] * 1000000] * 1000000 }}", "{{ ((9 ** 999) ** 999) ** 999 }}"],
)  # fmt: skip
def test_results_larger_than_the_output_limit_are_refused_before_they_are_built(source):
    with pytest.raises(TemplateError, match="refused by the sandbox"):
        template_render(source, CONTEXT)


def test_an_unsafe_attribute_in_a_condition_is_an_error_not_false():
    with pytest.raises(TemplateError, match="unsafe"):
        condition_evaluate("''.__class__.__mro__", CONTEXT)


def test_ordinary_templates_still_work_within_the_budget():
    source = "{{ ', '.join(['a', 'b']) }} {{ 'a-b'.replace('-', '_') }} {{ '%05.1f' % 3.14159 }}"
    assert template_render(source, CONTEXT) == "a, b a_b 003.1"
    assert template_render("{{ [1] + [2] }}", CONTEXT) == [1, 2]
    assert template_render("{% for i in range(3) %}{{ loop.length }}{% endfor %}", CONTEXT) == "333"
