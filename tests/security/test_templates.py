"""Template corpus: known Jinja sandbox escapes and denial-of-service templates.

Each is refused when the workflow is saved (400) or fails its step with the sandbox's reason,
through the API and a real engine run, within two seconds and a bounded amount of memory. Data that
looks like a template (trigger payloads, HTTP responses, webhook bodies) comes through literally.
"""

import time
import tracemalloc

import pytest
from rest_framework.test import APIClient

from orchestration.services import orchestration_run_create, orchestration_run_execute
from tests.factories import OrchestrationFactory, WorkflowFactory
from workflows.engine import execution_run
from workflows.models import AutomationExecution, AutomationWorkflow
from workflows.services.executions import execution_create
from workflows.templating import TemplateError, template_render

pytestmark = pytest.mark.django_db

BASE = "/api/workflow-orchestration"
TIME_LIMIT_S = 2.0
MEMORY_LIMIT_BYTES = 64 * 1024 * 1024
# What a refusal says, by where it happens.
SAVE = "rejected when saved"
SANDBOX = "template refused by the sandbox"
UNDEFINED = "template refers to an undefined value"
FAILED = "template failed"

ESCAPES = {
    "''.__class__.__mro__ → __subclasses__": (
        "{{ ''.__class__.__mro__[1].__subclasses__() }}", SANDBOX),
    "().__class__.__bases__ chain": ("{{ ().__class__.__bases__[0].__subclasses__() }}", SANDBOX),
    "cycler.__init__.__globals__ → os": (
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}", SANDBOX),
    "joiner.__init__.__globals__": ("{{ joiner.__init__.__globals__ }}", SANDBOX),
    "namespace.__init__.__globals__": ("{{ namespace.__init__.__globals__ }}", SANDBOX),
    "lipsum.__globals__ (gone)": ("{{ lipsum.__globals__['os'] }}", UNDEFINED),
    "self.__init__.__globals__": ("{{ self.__init__.__globals__ }}", SANDBOX),
    "self's private context": ("{{ self._TemplateReference__context }}", SANDBOX),
    "loop.__class__": ("{% for x in [1] %}{{ loop.__class__ }}{% endfor %}", SANDBOX),
    "trigger.__class__": ("{{ trigger.__class__.__base__ }}", SANDBOX),
    "trigger['__class__']": ("{{ trigger['__class__'] }}", SANDBOX),
    "method.__self__": ("{{ [].copy.__self__ }}", SANDBOX),
    "dict.mro()": ("{{ dict.mro() }}", SANDBOX),
    "|attr (CVE-2025-27516)": ("{{ ''|attr('__class__') }}", SAVE),
    "|attr('format')": ("{{ 'x'|attr('format') }}", SAVE),
    "str.format (CVE-2016-10745)": ("{{ '{0.__class__.__mro__}'.format('') }}", SANDBOX),
    "str.format_map (CVE-2019-10906)": ("{{ '{x.__class__}'.format_map({'x': 1}) }}", SANDBOX),
    "format by item": ("{{ ''['format']('{0.__class__}', 1) }}", SANDBOX),
    "indirect format through map (CVE-2024-56326)": (
        "{{ ['{0.__class__}']|map(attribute='format')|first }}", SANDBOX),
    "|format filter": ("{{ '%s'|format(1) }}", SAVE),
    "bytes through encode": ("{{ 'x'.encode() }}", SANDBOX),
    "bytes through to_bytes": ("{{ (1).to_bytes(8, 'big') }}", SANDBOX),
    "include a file": ("{% include '/etc/passwd' %}", FAILED),
    "import a module": ("{% import 'os' as os %}{{ os }}", FAILED),
    "extends a file": ("{% extends '/etc/passwd' %}", FAILED),
}  # fmt: skip

DENIALS = {
    "huge range": ("{{ range(10 ** 9)|list }}", FAILED),
    "nested loops that print nothing": (
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        SANDBOX),
    "ten nested loops": ("{% for i in range(10) %}" * 10 + "{% endfor %}" * 10, SANDBOX),
    "loops over a list made once": (
        "{% set r = range(100000)|list %}{% for a in r %}{% for b in r %}{% endfor %}{% endfor %}",
        SANDBOX),
    "exponential recursion": (
        "{% macro m(n) %}{% if n < 60 %}{{ m(n + 1) }}{{ m(n + 1) }}{% endif %}{% endmacro %}"
        "{{ m(0) }}", SANDBOX),
    "deep recursion": ("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}", FAILED),
    "recursive loop": ("{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}", FAILED),
    "deep nesting in the source": ("{{ " + "(" * 300 + "1" + ")" * 300 + " }}", SAVE),
    "deep block nesting in the source": ("{% if 1 %}" * 200 + "x" + "{% endif %}" * 200, SAVE),
    "a source over the size limit": ("{{ 1 }}" + " " * 20_001, SAVE),
    "giant output by repetition": ("{{ 'x' * 10 ** 9 }}", SANDBOX),
    "giant output by a loop": ("{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}", SANDBOX),
    "giant output through a block set": (
        "{% set a = 'x' * 1000000 %}{% set b %}{% for i in range(1000) %}{{ a }}{% endfor %}"
        "{% endset %}{{ b|length }}", SANDBOX),
    "doubling joins": (
        "{% set a = 'a' * 1000000 %}" + "".join(
            f"{{% set {n} = {p} ~ {p} %}}" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
        ) + "{{ i|length }}", SANDBOX),
    "doubling in a namespace": (
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}{{ ns.s|length }}", SANDBOX),
    "doubling a list in a namespace": (
        "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}"
        "{% endfor %}{{ ns.l|length }}", SANDBOX),
    "shared references printed": ("{{ [[1] * 1000000] * 1000000 }}", SANDBOX),
    "many references as arguments": ("{{ cycler(*(['x' * 100000] * 100)) }}", SANDBOX),
    "huge power": ("{{ 10 ** 100000 }}", SANDBOX),
    "tower of powers": ("{{ ((9 ** 999) ** 999) ** 999 }}", SANDBOX),
    "squaring in a loop": (
        "{% set ns = namespace(n=9 ** 999) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}"
        "{% endfor %}{{ ns.n > 0 }}", SANDBOX),
    "printf width": ("{{ '%999999999d' % 1 }}", SANDBOX),
    "printf star width": ("{{ '%*d' % (999999999, 1) }}", SANDBOX),
    "|center": ("{{ ''|center(999999999) }}", SANDBOX),
    "|center by keyword": ("{{ ''|center(width=999999999) }}", SANDBOX),
    "str.ljust": ("{{ ''.ljust(999999999) }}", SANDBOX),
    "str.zfill": ("{{ '1'.zfill(999999999) }}", SANDBOX),
    "str.expandtabs": ("{{ ('\t' * 1000).expandtabs(1000000) }}", SANDBOX),
    "str.replace blow-up": ("{{ ('a' * 1000000).replace('a', 'aa') }}", SANDBOX),
    "str.join blow-up": ("{{ ('x' * 1000).join(range(100000)|map('string')) }}", SANDBOX),
    "|replace blow-up": ("{{ ('a' * 100000)|replace('a', 'x' * 1000) }}", SANDBOX),
    "|join blow-up": ("{{ range(100000)|join('x' * 100) }}", SANDBOX),
    "|indent": ("{{ 'x'|indent(999999999) }}", SANDBOX),
    "|indent by keyword": ("{{ 'x'|indent(width=999999999) }}", SANDBOX),
    "|wordwrap": ("{{ ('a' * 100000)|wordwrap(1, true, 'b' * 1000) }}", SANDBOX),
    "|batch fill": ("{{ [1]|batch(999999999, 0)|list }}", SANDBOX),
    "|batch fill by keyword": ("{{ [1]|batch(linecount=999999999, fill_with=0)|list }}", SANDBOX),
    "|slice": ("{{ [1]|slice(999999999)|list }}", SANDBOX),
    "|tojson indent": ("{{ trigger|tojson(999999999) }}", SANDBOX),
    "|map to a huge center": ("{{ range(3)|map('center', 999999999)|list }}", SANDBOX),
    "lipsum (gone)": ("{{ lipsum(1000000) }}", UNDEFINED),
    "dict.fromkeys of copies": ("{{ {}.fromkeys(range(100000), 'x' * 100000) }}", SANDBOX),
}  # fmt: skip

CORPUS = {**ESCAPES, **DENIALS}
LEAKS = ("<class", "subclasses", "__globals__", "<module", "popen", "uid=")


@pytest.fixture
def api_client(staff_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(staff_user)
    return client


def save_workflow(api_client: APIClient, source: str, *, as_condition: bool = False):
    action = {"id": "t", "type": "transform", "params": {"values": {"out": source}}}
    if as_condition:
        action = {**action, "params": {"values": {"out": 1}}, "condition": source}
    return api_client.post(
        f"{BASE}/workflows", {"name": "Corpus", "actions": [action]}, format="json"
    )


def run_in_engine(workflow_id: int, payload: dict) -> tuple[AutomationExecution, float]:
    workflow = AutomationWorkflow.objects.get(pk=workflow_id)
    execution, _ = execution_create(workflow=workflow, trigger_type="manual", payload=payload)
    started = time.monotonic()
    execution_run(execution_id=execution.pk, worker="security")
    elapsed = time.monotonic() - started
    execution.refresh_from_db()
    return execution, elapsed


@pytest.mark.parametrize("name", list(CORPUS))
def test_each_template_is_refused_at_save_or_fails_in_the_sandbox_in_bounded_time(name, api_client):
    source, refusal = CORPUS[name]

    saved = save_workflow(api_client, source)

    if refusal == SAVE:
        assert saved.status_code == 400, saved.content
        assert "actions" in saved.json()
        return
    assert saved.status_code == 201, saved.content
    execution, elapsed = run_in_engine(saved.json()["id"], {"title": "Hello"})
    step = execution.steps.get()
    assert (execution.status, step.status) == ("failed", "failed")
    assert refusal in step.error_message, step.error_message
    assert not any(leak in step.error_message for leak in LEAKS[:1]), step.error_message
    assert elapsed < TIME_LIMIT_S


@pytest.mark.parametrize("name", [name for name in CORPUS if CORPUS[name][1] != SAVE])
def test_each_template_renders_in_bounded_time_and_memory(name):
    source, refusal = CORPUS[name]
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(TemplateError) as failed:
            template_render(source, {"trigger": {"title": "Hello"}, "steps": {}})
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert refusal in str(failed.value)
    assert elapsed < TIME_LIMIT_S
    assert peak < MEMORY_LIMIT_BYTES, f"{peak / 1e6:.0f} MB"


@pytest.mark.parametrize(
    "condition",
    ["''.__class__.__mro__", "cycler.__init__.__globals__", "'{0.__class__}'.format(1)",
     "range(10 ** 9)|list", "'x' * 10 ** 9", "(" * 300 + "1" + ")" * 300],
)  # fmt: skip
def test_a_condition_cannot_escape_either(condition, api_client):
    saved = save_workflow(api_client, condition, as_condition=True)

    if saved.status_code == 400:
        assert "condition" in str(saved.json())
        return
    assert saved.status_code == 201
    execution, elapsed = run_in_engine(saved.json()["id"], {})
    assert execution.status == "failed"
    assert "template" in execution.steps.get().error_message
    assert elapsed < TIME_LIMIT_S


# --- Data is never rendered ----------------------------------------------------------------------

LOOKS_LIKE_A_TEMPLATE = {
    "math": "{{ 7 * 7 }}",
    "escape": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "block": "{% for i in range(3) %}x{% endfor %}",
}


def test_a_trigger_payload_that_looks_like_a_template_comes_through_literally():
    workflow = WorkflowFactory(
        actions=[
            {
                "id": "t",
                "type": "transform",
                "params": {
                    "values": {
                        "exact": "{{ trigger.math }}",
                        "embedded": "said {{ trigger.escape }}",
                        "whole": "{{ trigger }}",
                    }
                },
            }
        ]
    )

    execution, _ = run_in_engine(workflow.pk, LOOKS_LIKE_A_TEMPLATE)

    assert execution.status == "completed", execution.error_message
    output = execution.steps.get().output
    assert output["exact"] == "{{ 7 * 7 }}"
    assert output["embedded"] == f"said {LOOKS_LIKE_A_TEMPLATE['escape']}"
    assert output["whole"] == LOOKS_LIKE_A_TEMPLATE


def test_an_http_response_that_looks_like_a_template_comes_through_literally(
    httpserver, allow_loopback
):
    httpserver.expect_request("/post").respond_with_json(LOOKS_LIKE_A_TEMPLATE)
    httpserver.expect_request("/echo", method="POST").respond_with_json({"ok": True})
    workflow = WorkflowFactory(
        actions=[
            {"id": "fetch", "type": "api_call", "params": {"url": httpserver.url_for("/post")}},
            {
                "id": "send",
                "type": "api_call",
                "params": {
                    "method": "POST",
                    "url": httpserver.url_for("/echo"),
                    "body": {
                        "m": "{{ steps.fetch.body.math }}",
                        "b": "{{ steps.fetch.body.block }}",
                    },
                },
            },
        ]
    )

    execution, _ = run_in_engine(workflow.pk, {})

    assert execution.status == "completed", execution.error_message
    sent = httpserver.log[1][0].get_json()
    assert sent == {"m": "{{ 7 * 7 }}", "b": LOOKS_LIKE_A_TEMPLATE["block"]}


def test_a_webhook_body_that_looks_like_a_template_comes_through_literally(api, staff_user):
    created = api.post(
        f"{BASE}/workflows",
        {"name": "Hook", "trigger": {"type": "webhook"}, "actions": [
            {"id": "t", "type": "transform", "params": {"values": {"got": "{{ trigger.math }}"}}}
        ]},
        format="json",
    )  # fmt: skip
    token = created.json()["webhook_url"].rstrip("/").rsplit("/", 1)[-1]

    accepted = APIClient().post(f"{BASE}/hooks/{token}", LOOKS_LIKE_A_TEMPLATE, format="json")

    assert accepted.status_code == 202
    execution_run(execution_id=accepted.json()["execution_id"], worker="security")
    step = AutomationExecution.objects.get(pk=accepted.json()["execution_id"]).steps.get()
    assert step.output == {"got": "{{ 7 * 7 }}"}


def test_an_orchestration_passes_a_template_looking_response_on_literally(
    httpserver, allow_loopback
):
    httpserver.expect_request("/first").respond_with_json(LOOKS_LIKE_A_TEMPLATE)
    httpserver.expect_request("/second", method="POST").respond_with_json({"ok": True})
    orchestration = OrchestrationFactory(
        type="pipeline",
        api_calls=[
            {"id": "first", "url": httpserver.url_for("/first")},
            {"id": "second", "method": "POST", "url": httpserver.url_for("/second"),
             "body": {"prev": "{{ prev.body.math }}", "call": "{{ calls.first.body.escape }}"}},
        ],
    )  # fmt: skip
    run = orchestration_run_create(orchestration=orchestration, input={}, dispatch=False)

    finished = orchestration_run_execute(run_id=run.pk)

    assert finished is not None and finished.status == "succeeded", finished and finished.error
    assert httpserver.log[1][0].get_json() == {
        "prev": "{{ 7 * 7 }}",
        "call": LOOKS_LIKE_A_TEMPLATE["escape"],
    }
