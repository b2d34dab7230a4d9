"""The workflow editor: the trigger and steps as forms built from the schemas, read back into the
definition the API takes; buttons that add, move, duplicate and remove steps; errors beside the
fields; a JSON view that round-trips; the catalogue search, the cron summary and the template
preview fragments."""

import json
import re

from django.http import QueryDict

from dashboard.editor.page import draft_read
from tests.factories import ConnectionFactory, ExecutionFactory, WorkflowFactory
from workflows.models import AutomationWorkflow

NEW = "/dashboard/workflows/new/"
CALL = {
    "id": "fetch",
    "type": "api_call",
    "name": "Fetch the user",
    "params": {
        "method": "POST",
        "url": "https://api.example.com/users/{{ trigger.user_id }}",
        "headers": {"X-Team": "docs"},
        "query": {"page": 2, "q": "ada"},
        "body": {"name": "{{ trigger.name }}"},
        "timeout_s": 2.5,
        "expect_status": [200, 201],
        "extract": {"email": "email"},
    },
    "condition": "trigger.user_id",
    "retry": {"max_attempts": 3, "backoff": "fixed", "delay_s": 1},
    "timeout_s": 30,
    "continue_on_failure": True,
}
TRANSFORM = {
    "id": "shape",
    "type": "transform",
    "params": {"values": {"email": "{{ steps.fetch.extracted.email }}", "n": 7, "ok": False}},
}


def editor_post(page: str) -> dict[str, list[str]]:
    """The fields a browser would send for the page's form (first form on the page): inputs,
    checked checkboxes, textareas and the selected options of each select."""
    form = page[page.index('<form method="post" class="form"') :]
    form = form[: form.index("</form>")]
    data: dict[str, list[str]] = {}
    for tag in re.finditer(r"<input\b[^>]*>", form):
        attrs = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', tag.group(0)))
        if "name" not in attrs or attrs.get("type") in ("search",):
            continue
        if attrs.get("type") == "checkbox" and " checked" not in tag.group(0):
            continue
        data.setdefault(attrs["name"], []).append(_unescape(attrs.get("value", "")))
    for match in re.finditer(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        text = match.group(2).removeprefix("\n")  # as browsers read a textarea
        data.setdefault(match.group(1), []).append(_unescape(text))
    for match in re.finditer(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.findall(r'<option value="([^"]*)" selected>', match.group(2))
        multiple = "multiple" in match.group(0).split(">")[0]
        data.setdefault(match.group(1), []).extend(
            _unescape(value) for value in (chosen if multiple else chosen[:1] or [""])
        )
    return data


def _unescape(text: str) -> str:
    for escaped, plain in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#x27;", "'")):
        text = text.replace(escaped, plain)
    return text.replace("&amp;", "&")


def as_querydict(data: dict[str, list[str]]) -> QueryDict:
    query = QueryDict(mutable=True)
    for key, values in data.items():
        query.setlist(key, values)
    return query


def test_a_definition_shown_in_the_forms_reads_back_unchanged(staff_client):
    ConnectionFactory(platform="slack", name="Team Slack")
    workflow = WorkflowFactory(
        trigger={"type": "schedule", "timezone": "Europe/Paris"},
        trigger_type="schedule",
        schedule="0 9 * * 1-5",
        actions=[CALL, TRANSFORM],
    )
    page = staff_client.get(f"/dashboard/workflows/{workflow.pk}/edit/").content.decode()
    draft, data = draft_read(as_querydict(editor_post(page)))
    assert draft.problems == {}
    assert json.loads(data["actions"]) == [CALL, TRANSFORM]
    assert json.loads(data["trigger"]) == workflow.trigger
    assert data["schedule"] == "0 9 * * 1-5"


def test_the_json_view_and_back_keeps_the_definition(staff_client):
    workflow = WorkflowFactory(actions=[CALL, TRANSFORM])
    url = f"/dashboard/workflows/{workflow.pk}/edit/"
    form_page = staff_client.get(url).content.decode()
    json_page = staff_client.post(url, {**editor_post(form_page), "editor": "json"})
    assert json_page.status_code == 200
    fields = editor_post(json_page.content.decode())
    assert json.loads(fields["actions"][0]) == [CALL, TRANSFORM]
    back = staff_client.post(url, {**fields, "editor": "form"}).content.decode()
    _, data = draft_read(as_querydict(editor_post(back)))
    assert json.loads(data["actions"]) == [CALL, TRANSFORM]


def test_a_step_added_from_the_catalogue_gets_its_generated_form(staff_client):
    page = staff_client.get(NEW).content.decode()
    added = staff_client.post(NEW, {**editor_post(page), "editor": "add:api_call"}).content.decode()
    assert 'name="s0-type" value="api_call"' in added
    assert 'name="s0-id" value="api_call"' in added
    assert '<option value="">Default (GET)</option>' in added  # the enum as a select
    assert 'for="id-s0-p-url">url <span class="required"' in added
    assert "private addresses are refused" in added  # the description as help text
    assert not AutomationWorkflow.objects.exists()


def test_a_connection_picker_lists_only_the_platforms_the_action_takes(staff_client):
    ConnectionFactory(platform="github", name="Repo bot")
    ConnectionFactory(platform="slack", name="Team Slack")
    workflow = WorkflowFactory(actions=[{"id": "c", "type": "git_commit", "params": {}}])
    page = staff_client.get(f"/dashboard/workflows/{workflow.pk}/edit/").content.decode()
    picker = page[page.index('id="id-s0-p-connection"') :].split("</select>")[0]
    assert "Repo bot (github)" in picker
    assert "Team Slack" not in picker


def test_move_duplicate_and_remove_change_the_order_and_focus_the_moved_step(staff_client):
    workflow = WorkflowFactory(actions=[CALL, TRANSFORM])
    url = f"/dashboard/workflows/{workflow.pk}/edit/"
    fields = editor_post(staff_client.get(url).content.decode())
    moved = staff_client.post(url, {**fields, "editor": "down:0"}).content.decode()
    _, data = draft_read(as_querydict(editor_post(moved)))
    assert [step["id"] for step in json.loads(data["actions"])] == ["shape", "fetch"]
    assert re.search(r'id="s1-up"[^>]*autofocus', moved)
    copied = staff_client.post(url, {**fields, "editor": "copy:1"}).content.decode()
    _, data = draft_read(as_querydict(editor_post(copied)))
    assert [step["id"] for step in json.loads(data["actions"])] == ["fetch", "shape", "shape_copy"]
    removed = staff_client.post(url, {**fields, "editor": "remove:0"}).content.decode()
    _, data = draft_read(as_querydict(editor_post(removed)))
    assert json.loads(data["actions"]) == [TRANSFORM]
    assert AutomationWorkflow.objects.get().actions == [CALL, TRANSFORM]  # nothing saved


def test_a_server_error_appears_beside_the_param_it_concerns(staff_client):
    page = staff_client.get(NEW).content.decode()
    added = staff_client.post(NEW, {**editor_post(page), "editor": "add:api_call"})
    fields = {**editor_post(added.content.decode()), "name": ["Caller"], "s0-p-url": ["nope"]}
    response = staff_client.post(NEW, fields)
    assert response.status_code == 400
    url_field = re.search(r'id="field-s0-p-url".*?</div>', response.content.decode(), re.S)
    assert url_field is not None
    assert '<ul class="field-errors"' in url_field.group(0)
    assert "Enter a valid URL." in url_field.group(0)
    assert not AutomationWorkflow.objects.exists()


def test_a_button_in_the_json_view_keeps_the_text_as_typed(staff_client):
    typed = '[{"id": "a",   "type": "transform"'  # not even JSON yet
    response = staff_client.post(
        NEW, {"editor_mode": "json", "editor": "refresh", "name": "Raw", "actions": typed}
    )
    assert response.status_code == 200
    assert editor_post(response.content.decode())["actions"] == [typed]
    refused = staff_client.post(
        NEW, {"editor_mode": "json", "editor": "form", "name": "Raw", "actions": typed}
    )
    assert refused.status_code == 400
    assert 'name="editor_mode" value="json"' in refused.content.decode()


def test_a_workflow_built_in_the_forms_is_saved(staff_client):
    page = staff_client.get(NEW).content.decode()
    added = staff_client.post(NEW, {**editor_post(page), "editor": "add:transform"})
    fields = editor_post(added.content.decode())
    fields.update(
        {
            "name": ["Built"],
            "trigger-type": ["schedule"],
            "schedule": ["*/5 * * * *"],
            "trigger-timezone": ["Europe/Berlin"],
            "s0-p-values-key": ["greeting"],
            "s0-p-values-value": ["Hello {{ trigger.name }}"],
        }
    )
    response = staff_client.post(NEW, fields)
    assert response.status_code == 302
    workflow = AutomationWorkflow.objects.get()
    assert workflow.trigger == {"type": "schedule", "timezone": "Europe/Berlin"}
    assert workflow.schedule == "*/5 * * * *"
    assert workflow.actions == [
        {
            "id": "transform",
            "type": "transform",
            "params": {"values": {"greeting": "Hello {{ trigger.name }}"}},
        }
    ]


def test_a_post_without_the_editor_mode_reads_the_json_boxes(staff_client):
    response = staff_client.post(
        NEW,
        {
            "name": "Raw",
            "workflow_type": "custom",
            "trigger": '{"type": "manual"}',
            "actions": json.dumps([TRANSFORM]),
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    assert AutomationWorkflow.objects.get().actions == [TRANSFORM]


def test_the_catalogue_search_keeps_the_matching_actions(staff_client):
    page = staff_client.get("/dashboard/workflows/catalogue/", {"q": "http"}).content.decode()
    assert 'value="add:api_call"' in page
    assert 'value="add:transform"' not in page


def test_the_cron_summary_says_it_in_words_with_the_next_five_runs(staff_client):
    page = staff_client.get(
        "/dashboard/workflows/cron/",
        {"schedule": "30 9 * * 1", "trigger-timezone": "Asia/Tokyo"},
    ).content.decode()
    assert "At 09:30, only on Monday" in page
    assert page.count("<li>") == 5
    assert "Asia/Tokyo" in page and "+09:00" in page
    assert page.count(", 09:30</time>") == 5  # shown in the workflow's time zone
    bad = staff_client.get("/dashboard/workflows/cron/", {"schedule": "61 * * * *"})
    assert "Invalid cron expression" in bad.content.decode()


def test_a_template_preview_renders_with_the_last_runs_payload_and_outputs(staff_client):
    workflow = WorkflowFactory(actions=[CALL, TRANSFORM])
    ExecutionFactory(
        workflow=workflow,
        trigger_payload={"name": "Ada"},
        context={"steps": {"fetch": {"extracted": {"email": "ada@example.com"}}}},
    )
    response = staff_client.post(
        "/dashboard/workflows/preview/",
        {
            "workflow_id": workflow.pk,
            "preview": "s1-p-values-value:0",
            "s1-p-values-value": ["{{ trigger.name }} <{{ steps.fetch.extracted.email }}>"],
        },
    )
    assert "<code>Ada &lt;ada@example.com&gt;</code>" in response.content.decode()
    broken = staff_client.post(
        "/dashboard/workflows/preview/", {"preview": "x", "x": "{{ nothing.here }}"}
    )
    assert "Cannot render" in broken.content.decode()


def test_each_step_lists_the_variables_it_can_read(staff_client):
    workflow = WorkflowFactory(actions=[CALL, TRANSFORM])
    ExecutionFactory(
        workflow=workflow,
        trigger_payload={"user_id": 7},
        context={"steps": {"fetch": {"status_code": 200}}},
    )
    page = staff_client.get(f"/dashboard/workflows/{workflow.pk}/edit/").content.decode()
    first, second = page.split('id="step-1"')
    first = first[first.index('id="step-0"') :]
    assert "<code>trigger.user_id</code>" in first and "steps.fetch" not in first
    assert "<code>steps.fetch.status_code</code>" in second


def test_the_editor_pages_are_for_staff_only(client, plain_client):
    for url in (NEW, "/dashboard/workflows/catalogue/", "/dashboard/workflows/cron/"):
        assert client.get(url).status_code == 302
        assert plain_client.get(url).status_code == 403
    assert plain_client.post("/dashboard/workflows/preview/", {}).status_code == 403


def test_a_json_param_that_does_not_parse_is_refused_beside_it(staff_client):
    page = staff_client.get(NEW).content.decode()
    added = staff_client.post(NEW, {**editor_post(page), "editor": "add:api_call"})
    fields = {
        **editor_post(added.content.decode()),
        "name": ["Caller"],
        "s0-p-url": ["https://example.com"],
        "s0-p-body": ["{not json"],
    }
    response = staff_client.post(NEW, fields)
    assert response.status_code == 400
    body_field = re.search(r'id="field-s0-p-body".*?</div>', response.content.decode(), re.S)
    assert body_field is not None and "Must be valid JSON." in body_field.group(0)
    assert "{not json</textarea>" in body_field.group(0)  # kept as typed
    assert not AutomationWorkflow.objects.exists()


def test_a_map_value_marked_json_that_does_not_parse_keeps_its_row(staff_client):
    page = staff_client.get(NEW).content.decode()
    added = staff_client.post(NEW, {**editor_post(page), "editor": "add:transform"})
    fields = {
        **editor_post(added.content.decode()),
        "name": ["Shaper"],
        "s0-p-values-key": ["count", "label"],
        "s0-p-values-value": ["[1, 2", "plain"],
        "s0-p-values-json": ["0"],
    }
    response = staff_client.post(NEW, fields)
    assert response.status_code == 400
    shown = editor_post(response.content.decode())
    assert shown["s0-p-values-key"][:2] == ["count", "label"]
    assert shown["s0-p-values-value"][:2] == ["[1, 2", "plain"]
    assert shown["s0-p-values-json"] == ["0"]
    assert "Not valid JSON: the value of count." in response.content.decode()


def test_a_step_error_appears_beside_the_steps_own_field(staff_client):
    workflow = WorkflowFactory(actions=[TRANSFORM])
    url = f"/dashboard/workflows/{workflow.pk}/edit/"
    fields = editor_post(staff_client.get(url).content.decode())
    copied = staff_client.post(url, {**fields, "editor": "copy:0"}).content.decode()
    fields = {**editor_post(copied), "s1-id": ["shape"], "s1-timeout_s": ["-1"]}
    response = staff_client.post(url, fields)
    assert response.status_code == 400
    page = response.content.decode()
    id_field = re.search(r'id="field-s1-id".*?</div>', page, re.S)
    assert id_field is not None and "Duplicate action id &#x27;shape&#x27;." in id_field.group(0)
    timeout = re.search(r'id="field-s1-timeout_s".*?</div>', page, re.S)
    assert timeout is not None and 'class="field-errors"' in timeout.group(0)
    assert re.search(r'<details class="step-more" open>', page)  # opened to show the error


def test_a_step_of_an_unknown_type_keeps_its_params_in_a_json_box(staff_client):
    gone = {"id": "old", "type": "retired_type", "params": {"a": [1, {"b": None}]}}
    workflow = WorkflowFactory(actions=[gone])
    page = staff_client.get(f"/dashboard/workflows/{workflow.pk}/edit/").content.decode()
    assert 'name="s0-params-kind" value="json"' in page
    _, data = draft_read(as_querydict(editor_post(page)))
    assert json.loads(data["actions"]) == [gone]
