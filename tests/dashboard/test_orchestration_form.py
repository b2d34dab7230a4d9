"""API orchestrations created and edited in the app: calls as repeated rows, checked by the API's
validation with each error beside the call and field it concerns, and a dependency preview."""

from typing import Any

from orchestration.models import APIOrchestration
from tests.factories import OrchestrationFactory


def _post(calls: list[dict[str, str]], **fields: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Fetch and post",
        "type": "parallel",
        "is_active": "on",
        "calls-TOTAL_FORMS": str(len(calls)),
        "calls-INITIAL_FORMS": "0",
        "calls-MIN_NUM_FORMS": "1",
        "calls-MAX_NUM_FORMS": "100",
        **fields,
    }
    for index, call in enumerate(calls):
        row = {"method": "GET", **call}
        data.update({f"calls-{index}-{key}": value for key, value in row.items()})
    return data


FETCH = {"id": "fetch", "url": "https://api.example.com/items", "extract": "first = items[0]"}
POST = {
    "id": "post",
    "method": "POST",
    "url": "https://hooks.example.com/in",
    "headers": "X-Team: ops",
    "body": '{"item": "{{ calls.fetch.first }}"}',
    "depends_on": "fetch",
}


def test_a_new_orchestration_is_saved_from_the_rows(staff_client):
    response = staff_client.post("/dashboard/orchestrations/new/", _post([FETCH, POST], save="1"))
    orchestration = APIOrchestration.objects.get()
    assert response["Location"] == f"/dashboard/orchestrations/{orchestration.pk}/"
    assert orchestration.type == "parallel"
    assert orchestration.dependencies == {"post": ["fetch"]}
    fetch, post = orchestration.api_calls
    assert fetch == {
        "id": "fetch",
        "method": "GET",
        "url": "https://api.example.com/items",
        "extract": {"first": "items[0]"},
    }
    assert post["headers"] == {"X-Team": "ops"}
    assert post["body"] == {"item": "{{ calls.fetch.first }}"}


def test_a_cycle_is_shown_beside_the_call_and_nothing_is_saved(staff_client):
    calls = [{**FETCH, "depends_on": "post"}, POST]
    response = staff_client.post("/dashboard/orchestrations/new/", _post(calls, save="1"))
    page = response.content.decode()
    assert response.status_code == 400
    beside = page[page.index('id="field-calls-0-depends_on"') :]
    assert "Dependency cycle: fetch → post → fetch." in beside[: beside.index("</div>")]
    assert 'id="dag-blocked"' in page
    assert not APIOrchestration.objects.exists()


def test_a_calls_own_error_is_beside_its_field_in_its_row(staff_client):
    calls = [FETCH, {**POST, "url": "not a url", "depends_on": "nowhere"}]
    page = staff_client.post("/dashboard/orchestrations/new/", _post(calls, save="1"))
    text = page.content.decode()
    url = text[text.index('id="field-calls-1-url"') :]
    assert "Enter a valid URL." in url[: url.index("</div>")]
    deps = text[text.index('id="field-calls-1-depends_on"') :]
    assert "Depends on unknown call &#x27;nowhere&#x27;" in deps[: deps.index("</div>")]


def test_a_header_line_without_a_colon_is_refused_beside_it(staff_client):
    calls = [{**FETCH, "headers": "just words"}]
    response = staff_client.post("/dashboard/orchestrations/new/", _post(calls, save="1"))
    page = response.content.decode()
    headers = page[page.index('id="field-calls-0-headers"') :]
    assert "Write each line as Name: value." in headers[: headers.index("</div>")]
    assert response.status_code == 400


def test_add_a_call_shows_one_blank_row_more_and_saves_nothing(staff_client):
    response = staff_client.post("/dashboard/orchestrations/new/", _post([FETCH], add_call="1"))
    page = response.content.decode()
    assert 'name="calls-1-id"' in page and 'name="calls-2-id"' not in page
    assert "This field is required" not in page
    assert not APIOrchestration.objects.exists()


def test_the_preview_lists_the_calls_in_stages(staff_client):
    third = {"id": "notify", "url": "https://hooks.example.com/n", "depends_on": "post, fetch"}
    response = staff_client.post(
        "/dashboard/orchestrations/new/", _post([FETCH, POST, third], preview="1")
    )
    stages = [[node.id for node in stage] for stage in response.context["preview"].stages]
    assert stages == [["fetch"], ["post"], ["notify"]]
    assert not APIOrchestration.objects.exists()


def test_editing_keeps_the_keys_the_rows_do_not_show(staff_client):
    orchestration = OrchestrationFactory(
        type="sequential",
        api_calls=[{"id": "a", "method": "GET", "url": "https://x.example.com/", "timeout_s": 5}],
        dependencies={},
    )
    page = staff_client.get(f"/dashboard/orchestrations/{orchestration.pk}/edit/")
    assert 'value="https://x.example.com/"' in page.content.decode()
    data = _post(
        [{"id": "a", "url": "https://y.example.com/", "rest": '{"timeout_s": 5}'}],
        save="1",
        name="Renamed",
        type="sequential",
    )
    response = staff_client.post(f"/dashboard/orchestrations/{orchestration.pk}/edit/", data)
    assert response.status_code == 302
    orchestration.refresh_from_db()
    assert orchestration.name == "Renamed"
    assert orchestration.api_calls == [
        {"id": "a", "method": "GET", "url": "https://y.example.com/", "timeout_s": 5}
    ]


def test_a_removed_row_is_left_out(staff_client):
    data = _post([FETCH, {**POST, "DELETE": "on"}], save="1")
    staff_client.post("/dashboard/orchestrations/new/", data)
    assert [call["id"] for call in APIOrchestration.objects.get().api_calls] == ["fetch"]


def test_the_forms_are_for_staff_only(plain_client, client, db):
    assert plain_client.get("/dashboard/orchestrations/new/").status_code == 403
    assert client.get("/dashboard/orchestrations/new/").status_code == 302


def test_a_call_without_a_body_shows_an_empty_body_box(staff_client):
    page = staff_client.get("/dashboard/orchestrations/new/").content.decode()
    box = page[page.index('id="id_calls-0-body"') :]
    assert box[: box.index("</textarea>")].endswith(">\n")


def test_other_settings_that_are_not_an_object_are_refused_not_a_crash(staff_client):
    calls = [{**FETCH, "rest": "[1, 2]"}]
    response = staff_client.post("/dashboard/orchestrations/new/", _post(calls, save="1"))
    assert response.status_code == 400
    assert "other settings must be a JSON object" in response.content.decode()
