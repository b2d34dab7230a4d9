"""The workflows and executions API: CRUD, validation, execute, permissions, errors."""

import json
from datetime import UTC, datetime

import pytest
import time_machine
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tests.factories import WorkflowFactory
from workflows.engine import execution_run
from workflows.models import AuditEntry, AutomationExecution, AutomationWorkflow
from workflows.services.tokens import api_token_create, api_token_revoke

pytestmark = pytest.mark.django_db

BASE = "/api/workflow-orchestration"
VALID = {
    "name": "Share new posts",
    "workflow_type": "social_sharing",
    "trigger": {"type": "manual"},
    "actions": [
        {"id": "calc", "type": "transform", "params": {"values": {"n": "{{ trigger.n }}"}}},
        {
            "id": "ping",
            "type": "api_call",
            "params": {"method": "POST", "url": "https://hooks.example.com/x", "body": {"n": 1}},
            "condition": "steps.calc.n > 3",
            "retry": {
                "max_attempts": 3,
                "backoff": "exponential",
                "delay_s": 2,
                "max_delay_s": 300,
            },
            "timeout_s": 30,
            "continue_on_failure": False,
        },
    ],
}


def with_actions(*actions, **fields):
    return {**VALID, "actions": list(actions), **fields}


def test_staff_creates_and_reads_a_workflow(api):
    response = api.post(f"{BASE}/workflows", VALID, format="json")
    assert response.status_code == 201, response.data
    body = response.json()
    assert body["version"] == 1
    assert body["run_count"] == 0
    assert body["schedule"] is None
    detail = api.get(f"{BASE}/workflows/{body['id']}/").json()
    assert detail["actions"] == VALID["actions"]


def test_paths_work_with_or_without_a_trailing_slash(api):
    assert api.get(f"{BASE}/workflows").status_code == 200
    assert api.get(f"{BASE}/workflows/").status_code == 200


def test_the_list_is_paginated_filtered_and_searchable(api):
    WorkflowFactory(name="Alpha", is_active=True)
    WorkflowFactory(name="Beta", is_active=False, workflow_type="monitoring")
    page = api.get(f"{BASE}/workflows", {"page_size": 1}).json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] == 2 and len(page["results"]) == 1
    assert [w["name"] for w in api.get(f"{BASE}/workflows?is_active=false").json()["results"]] == [
        "Beta"
    ]
    assert [w["name"] for w in api.get(f"{BASE}/workflows?search=alp").json()["results"]] == [
        "Alpha"
    ]
    monitoring = api.get(f"{BASE}/workflows?workflow_type=monitoring").json()["results"]
    assert [w["name"] for w in monitoring] == ["Beta"]


def test_listing_workflows_runs_a_constant_number_of_queries(api, django_assert_max_num_queries):
    WorkflowFactory.create_batch(30)
    with django_assert_max_num_queries(4):
        assert api.get(f"{BASE}/workflows?page_size=200").status_code == 200


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (with_actions({"id": "a", "type": "nope", "params": {}}), ["actions", "0", "type"]),
        (
            with_actions({"id": "a", "type": "api_call", "params": {}}),
            ["actions", "0", "params", "url"],
        ),
        (
            with_actions(
                {"id": "a", "type": "api_call", "params": {"url": "x", "timeout_s": "slow"}}
            ),
            ["actions", "0", "params", "url"],
        ),
        (
            with_actions(
                {"id": "a", "type": "transform", "params": {"values": {"x": 1}}},
                {"id": "a", "type": "transform", "params": {"values": {"x": 1}}},
            ),
            ["actions", "1", "id"],
        ),
        (
            with_actions(
                {"id": "a", "type": "transform", "params": {"values": {"x": "{{ 1 + }}"}}}
            ),
            ["actions", "0", "params", "values.x"],
        ),
        (
            with_actions(
                {"id": "a", "type": "transform", "condition": "1 +", "params": {"values": {"x": 1}}}
            ),
            ["actions", "0", "condition"],
        ),
        (
            with_actions({"id": "bad id!", "type": "transform", "params": {"values": {"x": 1}}}),
            ["actions", "0", "id"],
        ),
        ({**VALID, "trigger": {"type": "telepathy"}}, ["trigger", "type"]),
        ({**VALID, "trigger": {"type": "schedule"}, "schedule": "61 * * * *"}, ["schedule"]),
        ({**VALID, "trigger": {"type": "schedule"}, "schedule": "* * *"}, ["schedule"]),
        (
            {
                **VALID,
                "trigger": {"type": "schedule", "timezone": "Mars/Olympus"},
                "schedule": "0 * * * *",
            },
            ["trigger", "timezone"],
        ),
        *(
            ({**VALID, "trigger": {"type": "schedule", **trigger}}, ["trigger", "start_at"])
            for trigger in (
                {"interval_s": 3600, "start_at": "tomorrow at nine"},
                {"interval_s": 3600, "start_at": "2026-11-26T09:00:00"},  # no UTC offset
                {"interval_s": 3600, "start_at": 1764147600},
                {"start_at": "2026-11-26T09:00:00Z"},  # a cron schedule has no start
            )
        ),
        ({**VALID, "trigger": {"type": "event"}}, ["trigger", "event"]),
        ({**VALID, "actions": "not a list"}, ["actions"]),
        ({**VALID, "name": ""}, ["name"]),
        ({**VALID, "workflow_type": "other"}, ["workflow_type"]),
        ({**VALID, "is_active": "maybe"}, ["is_active"]),
        (
            with_actions(
                {
                    "id": "a",
                    "type": "transform",
                    "params": {"values": {"x": 1}},
                    "retry": {"max_attempts": 0},
                }
            ),
            ["actions", "0", "retry"],
        ),
        (
            with_actions(
                {
                    "id": "a",
                    "type": "api_call",
                    "params": {"url": "https://x.io", "extract": {"v": "a[["}},
                }
            ),
            ["actions", "0", "params", "extract"],
        ),
        (
            with_actions(
                {"id": "a", "type": "api_call", "params": {"url": "https://x.io", "urll": "y"}}
            ),
            ["actions", "0", "params", "urll"],
        ),
    ],
)
def test_bad_definitions_get_a_400_naming_the_field_and_save_nothing(api, body, path):
    response = api.post(f"{BASE}/workflows", body, format="json")
    assert response.status_code == 400
    errors = response.json()
    for key in path:
        assert key in errors, (path, errors)
        errors = errors[key]
    assert AutomationWorkflow.objects.count() == 0


def test_more_than_100_actions_are_refused(api):
    actions = [
        {"id": f"a{i}", "type": "transform", "params": {"values": {"x": i}}} for i in range(101)
    ]
    response = api.post(f"{BASE}/workflows", with_actions(*actions), format="json")
    assert response.status_code == 400
    assert "At most 100" in response.json()["actions"][0]


def test_a_body_that_is_not_json_gets_a_400(api):
    response = api.post(f"{BASE}/workflows", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_an_api_path_no_route_matches_answers_json_404(api):
    # Found by schema fuzzing (tests/security): Django answered an HTML page.
    response = api.get("/api/workflow-orchestration/executions/0.25/retry")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_the_schema_documents_the_errors_every_operation_can_answer():
    # Found by schema fuzzing: 400, 404 and 429 answers were outside the schema.
    schema = SchemaGenerator().get_schema(request=None, public=True)
    create = schema["paths"]["/api/workflow-orchestration/workflows"]["post"]["responses"]
    assert {"201", "400", "401", "403", "413", "429"} <= set(create)
    health = schema["paths"]["/api/workflow-orchestration/health"]["get"]["responses"]
    assert "401" not in health  # open to anonymous callers


def test_a_body_over_one_megabyte_gets_a_413(api):
    big = json.dumps({**VALID, "description": "x" * (1024 * 1024)})
    response = api.post(f"{BASE}/workflows", big, content_type="application/json")
    assert response.status_code == 413


def test_changing_the_definition_bumps_the_version_and_renaming_does_not(api):
    workflow_id = api.post(f"{BASE}/workflows", VALID, format="json").json()["id"]
    renamed = api.patch(
        f"{BASE}/workflows/{workflow_id}", {"name": "Renamed"}, format="json"
    ).json()
    assert renamed["version"] == 1
    actions = [{"id": "only", "type": "transform", "params": {"values": {"x": 1}}}]
    changed = api.patch(
        f"{BASE}/workflows/{workflow_id}", {"actions": actions}, format="json"
    ).json()
    assert changed["version"] == 2


def test_a_partial_update_is_validated_against_the_rest_of_the_definition(api):
    workflow_id = api.post(f"{BASE}/workflows", VALID, format="json").json()["id"]
    response = api.patch(
        f"{BASE}/workflows/{workflow_id}", {"trigger": {"type": "schedule"}}, format="json"
    )
    assert response.status_code == 400
    assert "schedule" in response.json()


def test_execute_answers_202_with_a_queued_execution(api):
    workflow = WorkflowFactory()
    response = api.post(f"{BASE}/workflows/{workflow.pk}/execute", {"n": 5}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    execution = AutomationExecution.objects.get(pk=body["execution_id"])
    assert execution.trigger_payload == {"n": 5}
    assert execution.trigger_type == "manual"


def test_an_idempotency_key_returns_the_first_execution(api):
    workflow = WorkflowFactory()
    url = f"{BASE}/workflows/{workflow.pk}/execute"
    first = api.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="order-1").json()
    second = api.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="order-1").json()
    assert first["execution_id"] == second["execution_id"]
    assert AutomationExecution.objects.count() == 1


def test_execute_refuses_a_payload_that_is_not_an_object(api):
    workflow = WorkflowFactory()
    response = api.post(f"{BASE}/workflows/{workflow.pk}/execute", [1, 2], format="json")
    assert response.status_code == 400


def test_execute_of_an_unknown_workflow_is_404(api):
    assert api.post(f"{BASE}/workflows/999999/execute", {}, format="json").status_code == 404
    assert api.post(f"{BASE}/workflows/abc/execute", {}, format="json").status_code == 404


def test_execution_detail_lists_its_steps_in_order(api):
    workflow = WorkflowFactory(
        actions=[
            {"id": "a", "type": "transform", "params": {"values": {"x": 1}}},
            {"id": "b", "type": "transform", "params": {"values": {"y": "{{ steps.a.x + 1 }}"}}},
        ]
    )
    execution_id = api.post(f"{BASE}/workflows/{workflow.pk}/execute", {}, format="json").json()[
        "execution_id"
    ]
    execution_run(execution_id=execution_id, worker="test")
    detail = api.get(f"{BASE}/executions/{execution_id}").json()
    assert detail["status"] == "completed"
    assert [step["step_id"] for step in detail["steps"]] == ["a", "b"]
    assert detail["steps"][1]["output"] == {"y": 2}
    assert detail["workflow_name"] == workflow.name
    listed = api.get(f"{BASE}/executions?status=completed&workflow={workflow.pk}").json()
    assert [row["id"] for row in listed["results"]] == [execution_id]
    assert "steps" not in listed["results"][0]


def test_listing_executions_runs_a_constant_number_of_queries(api, django_assert_max_num_queries):
    workflow = WorkflowFactory()
    for _ in range(20):
        api.post(f"{BASE}/workflows/{workflow.pk}/execute", {}, format="json")
    with django_assert_max_num_queries(4):
        assert api.get(f"{BASE}/executions?page_size=200").status_code == 200


def test_retrying_a_completed_execution_is_a_conflict(api):
    workflow = WorkflowFactory()
    execution_id = api.post(f"{BASE}/workflows/{workflow.pk}/execute", {}, format="json").json()[
        "execution_id"
    ]
    execution_run(execution_id=execution_id, worker="test")
    assert api.post(f"{BASE}/executions/{execution_id}/retry").status_code == 409
    assert api.post(f"{BASE}/executions/{execution_id}/cancel").status_code == 409


def test_cancel_of_a_queued_execution_answers_cancelled(api):
    workflow = WorkflowFactory()
    execution_id = api.post(f"{BASE}/workflows/{workflow.pk}/execute", {}, format="json").json()[
        "execution_id"
    ]
    response = api.post(f"{BASE}/executions/{execution_id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


def test_workflow_stats_count_its_executions(api):
    workflow = WorkflowFactory()
    for _ in range(2):
        execution_id = api.post(
            f"{BASE}/workflows/{workflow.pk}/execute", {}, format="json"
        ).json()["execution_id"]
        execution_run(execution_id=execution_id, worker="test")
    api.post(f"{BASE}/workflows/{workflow.pk}/execute", {}, format="json")
    stats = api.get(f"{BASE}/workflows/{workflow.pk}/stats").json()
    assert stats["success_count"] == 2
    assert stats["success_rate"] == 1.0
    assert stats["executions_by_status"]["queued"] == 1


def test_deleting_a_workflow_deletes_its_executions(api):
    workflow = WorkflowFactory()
    api.post(f"{BASE}/workflows/{workflow.pk}/execute", {}, format="json")
    assert api.delete(f"{BASE}/workflows/{workflow.pk}").status_code == 204
    assert AutomationExecution.objects.count() == 0


def test_anonymous_callers_get_401_except_on_health():
    client = APIClient()
    assert client.get(f"{BASE}/workflows").status_code == 401
    assert client.post(f"{BASE}/workflows", VALID, format="json").status_code == 401
    assert client.get(f"{BASE}/executions").status_code == 401
    assert client.get(f"{BASE}/health").status_code == 200


def test_a_plain_user_is_forbidden_from_workflows(plain_api):
    assert plain_api.get(f"{BASE}/workflows").status_code == 403
    assert plain_api.post(f"{BASE}/workflows", VALID, format="json").status_code == 403


def test_a_revoked_token_is_refused(staff_user):
    token, raw = api_token_create(user=staff_user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(f"{BASE}/workflows").status_code == 200
    api_token_revoke(token=token)
    response = client.get(f"{BASE}/workflows")
    assert response.status_code == 401
    assert response.json()["detail"] == "Token revoked."


def test_tokens_are_stored_hashed(staff_user):
    token, raw = api_token_create(user=staff_user)
    assert raw not in token.key_digest
    assert not type(token).objects.filter(key_digest=raw).exists()


def test_a_staff_session_works_too(client, staff_user):
    client.force_login(staff_user)
    assert client.get(f"{BASE}/workflows").status_code == 200


def test_health_reports_database_and_broker(api):
    response = APIClient().get(f"{BASE}/health")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] in ("ok", "degraded")  # no worker runs in this test
    assert body["components"]["database"]["ok"] is True
    assert body["components"]["broker"]["ok"] is True


def test_health_is_503_when_the_broker_is_unreachable(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = APIClient().get(f"{BASE}/health")
    assert response.status_code == 503
    assert response.json()["components"]["broker"]["ok"] is False


def test_the_openapi_schema_and_docs_are_served(api, client, staff_user):
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()


class TestOverlapSettings:
    def test_a_new_workflow_runs_alongside_and_is_not_paused(self, api):
        body = api.post(f"{BASE}/workflows", VALID, format="json").json()
        assert body["overlap_policy"] == "allow"
        assert body["schedule_paused_until"] is None

    def test_max_concurrency_without_a_policy_means_queue(self, api):
        body = api.post(f"{BASE}/workflows", {**VALID, "max_concurrency": 2}, format="json").json()
        assert (body["overlap_policy"], body["max_concurrency"]) == ("queue", 2)

    def test_queue_without_max_concurrency_is_accepted(self, api):
        response = api.post(
            f"{BASE}/workflows", {**VALID, "overlap_policy": "queue"}, format="json"
        )
        assert response.status_code == 201
        assert response.json()["max_concurrency"] is None

    @pytest.mark.parametrize("policy", ["allow", "skip", "cancel_running", "cancel_new"])
    def test_max_concurrency_with_another_policy_is_a_400_naming_it(self, api, policy):
        data = {**VALID, "overlap_policy": policy, "max_concurrency": 2}
        response = api.post(f"{BASE}/workflows", data, format="json")
        assert response.status_code == 400
        assert set(response.json()) == {"max_concurrency"}
        assert not AutomationWorkflow.objects.exists()

    def test_switching_a_limited_workflow_to_skip_needs_the_limit_cleared(self, api):
        workflow_id = api.post(f"{BASE}/workflows", {**VALID, "max_concurrency": 2}, format="json")
        url = f"{BASE}/workflows/{workflow_id.json()['id']}"
        refused = api.patch(url, {"overlap_policy": "skip"}, format="json")
        assert refused.status_code == 400 and set(refused.json()) == {"max_concurrency"}
        accepted = api.patch(
            url, {"overlap_policy": "skip", "max_concurrency": None}, format="json"
        )
        assert accepted.status_code == 200
        assert accepted.json()["overlap_policy"] == "skip"

    def test_clearing_the_limit_of_a_queue_workflow_lifts_it(self, api):
        created = api.post(f"{BASE}/workflows", {**VALID, "max_concurrency": 2}, format="json")
        url = f"{BASE}/workflows/{created.json()['id']}"
        body = api.patch(url, {"max_concurrency": None}, format="json").json()
        assert (body["overlap_policy"], body["max_concurrency"]) == ("allow", None)

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("overlap_policy", "sometimes"),
            ("overlap_policy", None),
            ("schedule_paused_until", "soon"),
        ],
    )
    def test_an_unknown_value_is_a_400_naming_the_field(self, api, field, value):
        response = api.post(f"{BASE}/workflows", {**VALID, field: value}, format="json")
        assert response.status_code == 400
        assert set(response.json()) == {field}

    def test_a_policy_change_is_kept_in_the_revision_history(self, api):
        created = api.post(f"{BASE}/workflows", VALID, format="json").json()
        api.patch(f"{BASE}/workflows/{created['id']}", {"overlap_policy": "skip"}, format="json")
        latest = api.get(f"{BASE}/workflows/{created['id']}/revisions").json()["results"][0]
        assert latest["changed_fields"] == ["overlap_policy"]

    def test_pausing_is_an_audited_edit_that_records_no_revision(self, api):
        created = api.post(f"{BASE}/workflows", VALID, format="json").json()
        url = f"{BASE}/workflows/{created['id']}"
        body = api.patch(url, {"schedule_paused_until": "2030-01-01T09:00:00+01:00"}, format="json")
        assert body.json()["schedule_paused_until"] == "2030-01-01T08:00:00Z"
        entry = AuditEntry.objects.filter(action="updated").get()
        assert entry.detail["fields"] == ["schedule_paused_until"]
        assert api.get(f"{url}/revisions").json()["count"] == 1


class TestSchedulePreview:
    def create(self, api, **fields):
        data = {**VALID, "trigger": {"type": "schedule", "timezone": "Europe/Paris"}}
        response = api.post(
            f"{BASE}/workflows", {**data, "schedule": "0 9 * * *", **fields}, format="json"
        )
        assert response.status_code == 201, response.json()
        return response.json()["id"]

    def test_it_lists_the_next_fire_times_in_the_workflows_zone(self, api):
        workflow_id = self.create(api)
        with time_machine.travel(datetime(2026, 11, 26, 12, tzinfo=UTC), tick=False):
            body = api.get(f"{BASE}/workflows/{workflow_id}/schedule?next=3").json()
        assert body == {
            "timezone": "Europe/Paris",
            "description": "Every day at 09:00 (Europe/Paris)",
            "next": [
                "2026-11-27T09:00:00+01:00",
                "2026-11-28T09:00:00+01:00",
                "2026-11-29T09:00:00+01:00",
            ],
            "paused_until": None,
        }

    def test_five_by_default(self, api):
        body = api.get(f"{BASE}/workflows/{self.create(api)}/schedule").json()
        assert len(body["next"]) == 5

    def test_slots_before_the_pause_are_left_out(self, api):
        workflow_id = self.create(api, schedule_paused_until="2026-11-29T08:00:00Z")
        with time_machine.travel(datetime(2026, 11, 26, 12, tzinfo=UTC), tick=False):
            body = api.get(f"{BASE}/workflows/{workflow_id}/schedule?next=2").json()
        assert body["next"] == ["2026-11-29T09:00:00+01:00", "2026-11-30T09:00:00+01:00"]
        assert body["paused_until"] == "2026-11-29T08:00:00+00:00"

    def test_an_interval_lists_its_slots_from_its_anchor(self, api):
        trigger = {"type": "schedule", "interval_s": 900, "start_at": "2026-11-26T12:05:00Z"}
        workflow_id = self.create(api, trigger=trigger, schedule=None)
        with time_machine.travel(datetime(2026, 11, 26, 12, 30, tzinfo=UTC), tick=False):
            body = api.get(f"{BASE}/workflows/{workflow_id}/schedule?next=2").json()
        assert body["description"] == "Every 15 minutes"
        assert body["next"] == ["2026-11-26T12:35:00+00:00", "2026-11-26T12:50:00+00:00"]

    @pytest.mark.parametrize("value", ["0", "101", "abc", "-1"])
    def test_a_bad_count_is_a_400_naming_next(self, api, value):
        response = api.get(f"{BASE}/workflows/{self.create(api)}/schedule?next={value}")
        assert response.status_code == 400
        assert set(response.json()) == {"next"}

    def test_a_workflow_without_a_schedule_answers_409(self, api):
        workflow = WorkflowFactory()
        response = api.get(f"{BASE}/workflows/{workflow.pk}/schedule")
        assert response.status_code == 409
        assert response.json() == {
            "detail": f"Workflow {workflow.pk} has a manual trigger, not a schedule."
        }

    def test_an_unknown_workflow_is_404(self, api):
        assert api.get(f"{BASE}/workflows/999999/schedule").status_code == 404
