"""Replays (SPEC §11): a finished execution re-run as a new, linked one — from the start or a
step, on its original or the current revision, with steps marked done — without repeating the
effects its origin already made unless asked to."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework import serializers

from alerts.models import Notification
from tests.factories import WorkflowFactory
from workflows.engine import execution_run
from workflows.models import AuditEntry, AutomationExecution, StepEffect
from workflows.services.executions import execution_create
from workflows.services.housekeeping import execution_prune
from workflows.services.replay import execution_replay, replay_plan
from workflows.services.workflows import workflow_update

# The notify steps address the staff user by name.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback", "staff_user")]

BASE = "/api/workflow-orchestration"

NOTIFY = {
    "id": "tell",
    "type": "notify",
    "params": {"channel": "in_app", "recipients": ["staff"], "message": "Published"},
}
BROKEN = {"id": "sum", "type": "transform", "params": {"values": {"x": "{{ steps.nope.y }}"}}}
FIXED = {"id": "sum", "type": "transform", "params": {"values": {"x": 41}}}
AFTER = {"id": "after", "type": "transform", "params": {"values": {"y": "{{ steps.sum.x + 1 }}"}}}


def run(execution: AutomationExecution) -> AutomationExecution:
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    return execution


def failed_run(actions=None) -> AutomationExecution:
    workflow = WorkflowFactory(actions=actions or [NOTIFY, BROKEN, AFTER])
    execution, _ = execution_create(workflow=workflow, trigger_type="manual", payload={"n": 1})
    execution = run(execution)
    assert execution.status == "failed"
    return execution


def steps_of(execution: AutomationExecution) -> list[tuple[str, str]]:
    return list(execution.steps.order_by("step_index").values_list("step_id", "status"))


def fix(execution: AutomationExecution) -> None:
    workflow_update(workflow=execution.workflow, data={"actions": [NOTIFY, FIXED, AFTER]})


class TestReplayFromAStep:
    def test_from_the_failed_step_on_the_current_revision_it_completes_without_resending(
        self, staff_user
    ):
        origin = failed_run()
        fix(origin)
        plan = replay_plan(execution=origin, from_step="sum", revision="current")
        replay = run(execution_replay(plan=plan))
        assert replay.status == "completed", replay.error_message
        assert steps_of(replay) == [
            ("tell", "completed"),
            ("sum", "completed"),
            ("after", "completed"),
        ]
        assert replay.context["steps"]["after"] == {"y": 42}
        assert (replay.replay_of_id, replay.replay_from_step) == (origin.pk, "sum")
        assert replay.triggered_by == {"kind": "replay", "name": "someone", "id": origin.pk}
        assert replay.trigger_payload == {"n": 1}
        # The notify step was carried over, not run: one message in all.
        assert Notification.objects.filter(user=staff_user).count() == 1

    def test_on_the_original_revision_it_runs_what_the_origin_ran(self):
        origin = failed_run()
        fix(origin)
        plan = replay_plan(execution=origin, from_step="sum")
        replay = run(execution_replay(plan=plan))
        assert replay.status == "failed"
        assert replay.definition == origin.definition
        assert replay.workflow_version == origin.workflow_version

    def test_a_step_before_from_step_that_did_not_complete_is_refused(self):
        origin = failed_run()
        with pytest.raises(serializers.ValidationError) as refused:
            replay_plan(execution=origin, from_step="after")
        assert "from_step" in refused.value.detail
        assert "'sum' did not complete" in str(refused.value.detail["from_step"][0])


class TestEffects:
    def test_a_replay_from_the_start_does_not_send_again_what_the_origin_sent(self, staff_user):
        origin = failed_run()
        fix(origin)
        plan = replay_plan(execution=origin, revision="current")
        assert [(s.step_id, s.plan, s.effects) for s in plan.steps] == [
            ("tell", "runs", "recorded"),
            ("sum", "runs", "none"),
            ("after", "runs", "none"),
        ]
        replay = run(execution_replay(plan=plan))
        assert replay.status == "completed", replay.error_message
        assert Notification.objects.filter(user=staff_user).count() == 1
        assert replay.effect_scope == origin.pk
        # The step read back what the origin recorded.
        assert replay.context["steps"]["tell"] == origin.context["steps"]["tell"]

    def test_force_effects_sends_again_under_keys_of_its_own(self, staff_user):
        origin = failed_run()
        fix(origin)
        plan = replay_plan(execution=origin, revision="current", force_effects=True)
        assert plan.steps[0].effects == "again"
        replay = run(execution_replay(plan=plan))
        assert replay.status == "completed"
        assert Notification.objects.filter(user=staff_user).count() == 2
        assert replay.effect_scope is None
        assert StepEffect.objects.filter(key=f"{replay.pk}-tell").exists()

    def test_a_replay_of_a_replay_keeps_the_first_executions_keys(self, staff_user):
        origin = failed_run()
        first = run(execution_replay(plan=replay_plan(execution=origin)))
        second = run(execution_replay(plan=replay_plan(execution=first)))
        assert second.effect_scope == origin.pk
        assert Notification.objects.filter(user=staff_user).count() == 1

    def test_pruning_keeps_an_origin_while_a_replay_uses_its_ledger(self, staff_user, settings):
        settings.EXECUTION_RETENTION_DAYS = 7
        origin = failed_run()
        first = run(execution_replay(plan=replay_plan(execution=origin)))
        long_ago = timezone.now() - timedelta(days=30)
        AutomationExecution.objects.filter(pk=origin.pk).update(created_at=long_ago)
        assert execution_prune() == 0, "the replay still uses the origin's ledger"
        assert StepEffect.objects.filter(key=f"{origin.pk}-tell").exists()
        second = run(execution_replay(plan=replay_plan(execution=first)))
        assert Notification.objects.filter(user=staff_user).count() == 1, "not sent again"
        AutomationExecution.objects.filter(pk__in=[first.pk, second.pk]).update(created_at=long_ago)
        assert execution_prune() == 3
        assert not StepEffect.objects.exists()

    def test_an_effect_the_origin_never_made_is_made_once_by_the_replay(self, staff_user):
        origin = failed_run([BROKEN, NOTIFY])
        fix_actions = [FIXED, NOTIFY]
        workflow_update(workflow=origin.workflow, data={"actions": fix_actions})
        plan = replay_plan(execution=origin, revision="current")
        assert plan.steps[1].effects == "new"
        replay = run(execution_replay(plan=plan))
        assert replay.status == "completed"
        assert Notification.objects.filter(user=staff_user).count() == 1
        assert StepEffect.objects.filter(key=f"{origin.pk}-tell").exists()

    def test_an_api_call_replayed_carries_the_origins_idempotency_key(self, httpserver):
        httpserver.expect_request("/hook").respond_with_json({"ok": True})
        call = {"id": "call", "type": "api_call", "params": {"url": httpserver.url_for("/hook")}}
        origin = failed_run([call, BROKEN])
        run(execution_replay(plan=replay_plan(execution=origin)))
        keys = [request.headers["Idempotency-Key"] for request, _ in httpserver.log]
        assert keys == [f"{origin.pk}-call", f"{origin.pk}-call"]


class TestMarks:
    def test_a_failed_step_marked_completed_hands_its_output_to_the_next(self):
        origin = failed_run()
        plan = replay_plan(
            execution=origin,
            from_step="sum",
            mark={"sum": {"status": "completed", "output": {"x": 9}}},
        )
        assert [s.plan for s in plan.steps] == ["carried", "marked", "runs"]
        replay = run(execution_replay(plan=plan))
        assert replay.status == "completed", replay.error_message
        assert replay.context["steps"]["after"] == {"y": 10}
        assert replay.steps.get(step_id="sum").output == {"x": 9}

    def test_a_step_marked_skipped_is_not_run(self):
        origin = failed_run([NOTIFY, BROKEN])
        plan = replay_plan(execution=origin, from_step="sum", mark={"sum": {"status": "skipped"}})
        replay = run(execution_replay(plan=plan))
        assert replay.status == "completed"
        assert steps_of(replay) == [("tell", "completed"), ("sum", "skipped")]
        assert replay.steps_completed == 2


class TestApi:
    def test_post_replay_answers_202_and_links_both_ways(self, api):
        origin = failed_run()
        fix(origin)
        response = api.post(
            f"{BASE}/executions/{origin.pk}/replay",
            {"from_step": "sum", "revision": "current"},
            format="json",
        )
        assert response.status_code == 202, response.json()
        body = response.json()
        assert body["status"] == "queued"
        assert (body["replay_of"], body["replay_from_step"]) == (origin.pk, "sum")
        replay = run(AutomationExecution.objects.get(pk=body["execution_id"]))
        assert replay.status == "completed"
        detail = api.get(f"{BASE}/executions/{replay.pk}").json()
        assert (detail["replay_of"], detail["replay_from_step"]) == (origin.pk, "sum")
        # Started by a replay, asked for by the API token the client used.
        assert detail["triggered_by"]["kind"] == "replay"
        assert detail["triggered_by"]["id"] == origin.pk
        assert detail["triggered_by"]["name"].startswith("token ")
        assert api.get(f"{BASE}/executions/{origin.pk}").json()["replays"] == [replay.pk]
        entry = AuditEntry.objects.get(action="replayed")
        assert (entry.object_id, entry.detail["replay_id"]) == (str(origin.pk), replay.pk)

    def test_get_replay_shows_the_plan_before_anything_starts(self, api):
        origin = failed_run()
        response = api.get(f"{BASE}/executions/{origin.pk}/replay?from_step=sum")
        assert response.status_code == 200, response.json()
        assert [(s["step_id"], s["plan"], s["effects"]) for s in response.json()["steps"]] == [
            ("tell", "carried", "none"),
            ("sum", "runs", "none"),
            ("after", "runs", "none"),
        ]
        assert AutomationExecution.objects.count() == 1

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"from_step": "nope"}, "from_step"),
            ({"from_step": "after"}, "from_step"),
            ({"revision": "latest"}, "revision"),
            ({"mark": {"nope": {"status": "completed"}}}, "mark"),
            ({"mark": {"sum": {"status": "failed"}}}, "mark"),
            ({"mark": {"sum": {"status": "skipped", "output": {"x": 1}}}}, "mark"),
            ({"mark": {"sum": {"status": "completed", "outptu": {}}}}, "mark"),
            ({"fromStep": "sum"}, "fromStep"),
            ({"force_effects": "maybe"}, "force_effects"),
        ],
    )
    def test_bad_input_is_a_400_naming_the_field_and_starts_nothing(self, api, body, field):
        origin = failed_run()
        response = api.post(f"{BASE}/executions/{origin.pk}/replay", body, format="json")
        assert response.status_code == 400, response.json()
        assert field in response.json()
        assert AutomationExecution.objects.count() == 1

    def test_an_execution_still_under_way_is_a_409(self, api):
        execution, _ = execution_create(workflow=WorkflowFactory(), trigger_type="manual")
        response = api.post(f"{BASE}/executions/{execution.pk}/replay", {}, format="json")
        assert response.status_code == 409
        assert "finished" in response.json()["detail"]

    def test_plain_users_may_not_replay(self, plain_api):
        origin = failed_run()
        response = plain_api.post(f"{BASE}/executions/{origin.pk}/replay", {}, format="json")
        assert response.status_code == 403
        assert AutomationExecution.objects.count() == 1

    def test_no_email_or_message_leaves_for_a_replay_of_a_recorded_email(self, staff_user):
        staff_user.email = "editor@example.com"
        staff_user.save()
        email = {
            "id": "mail",
            "type": "notify",
            "params": {"channel": "email", "recipients": ["staff"], "message": "Out"},
        }
        origin = failed_run([email, BROKEN])
        sent = len(mail.outbox)
        run(execution_replay(plan=replay_plan(execution=origin)))
        assert len(mail.outbox) == sent
