"""The audit trail: who triggered, retried, cancelled, approved, edited or deleted what, kept
after the executions it names are pruned; and every execution's ``triggered_by``."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from tests.dashboard.data import APPROVAL_ACTIONS
from tests.factories import WorkflowFactory
from tests.workflows.test_triggers import SECRET, post_hook, signed, webhook_workflow
from workflows.engine import execution_run
from workflows.models import AuditEntry, AutomationExecution, AutomationWorkflow
from workflows.services.executions import execution_create
from workflows.services.housekeeping import execution_prune
from workflows.services.schedules import schedule_fire
from workflows.services.tokens import api_token_create
from workflows.services.triggers import event_emit
from workflows.services.workflows import workflow_create

pytestmark = pytest.mark.django_db
BASE = "/api/workflow-orchestration"
ONE_STEP = [{"id": "t", "type": "transform", "params": {"values": {"n": 1}}}]


@pytest.fixture
def deploy_bot(staff_user) -> tuple[APIClient, int]:
    """A staff API client authenticated by a token named ``deploy-bot``; and the token's id."""
    token, raw = api_token_create(user=staff_user, name="deploy-bot")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client, token.pk


def audit(client, **filters) -> list[dict]:
    response = client.get(f"{BASE}/audit", filters)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_a_token_that_triggers_a_run_is_named_on_the_run_and_in_the_trail(deploy_bot):
    client, token_id = deploy_bot
    workflow = WorkflowFactory(actions=ONE_STEP)
    response = client.post(f"{BASE}/workflows/{workflow.pk}/execute", {}, format="json")
    execution_id = response.json()["execution_id"]

    actor = {"kind": "token", "name": "deploy-bot", "id": token_id}
    shown = client.get(f"{BASE}/executions/{execution_id}").json()
    assert shown["triggered_by"] == actor
    (entry,) = audit(client, action="triggered")
    assert entry["actor"] == actor
    assert (entry["object_type"], entry["object_id"]) == ("execution", str(execution_id))
    assert entry["detail"]["workflow_id"] == workflow.pk


def test_retry_cancel_and_approval_are_audited_with_who_did_them(deploy_bot, staff_user):
    client, _ = deploy_bot
    failing = WorkflowFactory(actions=[{"id": "t", "type": "transform", "params": {}}])
    failed, _ = execution_create(workflow=failing, trigger_type="manual")
    execution_run(execution_id=failed.pk, worker="test")
    assert client.post(f"{BASE}/executions/{failed.pk}/retry").status_code == 202

    queued, _ = execution_create(workflow=WorkflowFactory(actions=ONE_STEP), trigger_type="manual")
    assert client.post(f"{BASE}/executions/{queued.pk}/cancel").status_code == 200

    waiting, _ = execution_create(
        workflow=WorkflowFactory(actions=APPROVAL_ACTIONS), trigger_type="manual"
    )
    execution_run(execution_id=waiting.pk, worker="test")
    browser = Client()
    browser.force_login(staff_user)
    approved = browser.post(f"/dashboard/executions/{waiting.pk}/approve/", {"comment": "ship it"})
    assert approved.status_code == 302

    entries = audit(client)
    assert [(e["action"], e["object_id"]) for e in entries] == [
        ("approved", str(waiting.pk)),
        ("cancelled", str(queued.pk)),
        ("retried", str(failed.pk)),
    ]
    assert entries[0]["actor"] == {"kind": "user", "name": "staff", "id": staff_user.pk}
    assert entries[0]["detail"]["comment"] == "ship it"
    assert {e["actor"]["name"] for e in entries[1:]} == {"deploy-bot"}
    assert entries[1]["detail"]["status_before"] == "queued"


def test_workflow_edits_and_deletion_are_audited_and_outlive_the_workflow(deploy_bot):
    client, _ = deploy_bot
    created = client.post(
        f"{BASE}/workflows", {"name": "Audited", "actions": ONE_STEP}, format="json"
    ).json()
    url = f"{BASE}/workflows/{created['id']}"
    assert client.patch(url, {"description": "now described"}, format="json").status_code == 200
    assert client.patch(url, {"description": "now described"}, format="json").status_code == 200
    assert client.delete(url).status_code == 204

    assert not AutomationWorkflow.objects.filter(pk=created["id"]).exists()
    entries = audit(client, object_type="workflow", object_id=created["id"])
    assert [e["action"] for e in entries] == ["deleted", "updated", "created"]
    assert entries[1]["detail"]["fields"] == ["description"]  # the no-op edit is not an entry
    assert entries[2]["detail"]["name"] == "Audited"


def test_entries_survive_the_pruning_of_the_executions_they_name(deploy_bot, settings):
    client, _ = deploy_bot
    workflow = WorkflowFactory(actions=ONE_STEP)
    execution_id = client.post(f"{BASE}/workflows/{workflow.pk}/execute").json()["execution_id"]
    execution_run(execution_id=execution_id, worker="test")
    settings.EXECUTION_RETENTION_DAYS = 1
    AutomationExecution.objects.filter(pk=execution_id).update(
        created_at=timezone.now() - timedelta(days=3)
    )

    assert execution_prune() == 1
    assert [e["object_id"] for e in audit(client, actor="deploy-bot")] == [str(execution_id)]


def test_what_the_system_starts_by_itself_says_so_on_the_run_without_an_audit_entry(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    hook = webhook_workflow(SECRET)
    body = json.dumps({"n": 1}).encode()
    response = post_hook(hook, body, x_signature=signed(body), x_delivery_id="d-1")
    assert response.status_code == 202, response.content
    listening = workflow_create(
        data={"name": "On deploy", "trigger": {"type": "event", "event": "deployed"},
              "actions": ONE_STEP}
    )  # fmt: skip
    (from_event,) = event_emit(name="deployed", payload={})
    scheduled = workflow_create(
        data={"name": "Every minute", "trigger": {"type": "schedule"}, "schedule": "* * * * *",
              "actions": ONE_STEP}
    )  # fmt: skip
    fired = schedule_fire(workflow_id=scheduled.pk, now=timezone.now())

    from_hook = AutomationExecution.objects.get(workflow=hook)
    assert from_hook.triggered_by == {"kind": "webhook", "name": "generic", "id": "d-1"}
    assert from_event.workflow_id == listening.pk
    assert from_event.triggered_by == {"kind": "event", "name": "deployed", "id": None}
    assert fired is not None and fired.triggered_by["kind"] == "schedule"
    assert fired.triggered_by["id"] == fired.scheduled_for.isoformat()
    assert not AuditEntry.objects.exists()


def test_the_trail_is_for_staff_and_cannot_be_written(api, plain_api):
    assert plain_api.get(f"{BASE}/audit").status_code == 403
    assert APIClient().get(f"{BASE}/audit").status_code == 401
    assert api.post(f"{BASE}/audit", {}, format="json").status_code == 405


def test_the_admin_shows_entries_but_cannot_change_or_delete_them(staff_user, deploy_bot):
    client, _ = deploy_bot
    workflow = WorkflowFactory(actions=ONE_STEP)
    client.post(f"{BASE}/workflows/{workflow.pk}/execute")
    entry = AuditEntry.objects.get()
    staff_user.is_superuser = True
    staff_user.save()
    browser = Client()
    browser.force_login(staff_user)
    listing = browser.get("/admin/workflows/auditentry/")
    assert listing.status_code == 200 and "deploy-bot" in listing.content.decode()
    assert browser.post(f"/admin/workflows/auditentry/{entry.pk}/delete/").status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_the_dashboard_audit_tab_lists_and_filters_the_trail(deploy_bot, staff_user):
    client, _ = deploy_bot
    ran = WorkflowFactory(name="Nightly digest", actions=ONE_STEP)
    execution_id = client.post(f"{BASE}/workflows/{ran.pk}/execute").json()["execution_id"]
    edited = client.post(f"{BASE}/workflows", {"name": "Fresh", "actions": ONE_STEP}, format="json")
    browser = Client()
    browser.force_login(staff_user)

    everything = browser.get("/dashboard/audit/").content.decode()
    assert f"/dashboard/executions/{execution_id}/" in everything
    assert f"/dashboard/workflows/{edited.json()['id']}/" in everything
    assert "deploy-bot" in everything
    only_created = browser.get("/dashboard/audit/", {"action": "created"}).content.decode()
    assert f"/dashboard/executions/{execution_id}/" not in only_created
    assert f"/dashboard/workflows/{edited.json()['id']}/" in only_created
    nobody = browser.get("/dashboard/audit/", {"actor": "someone-else"}).content.decode()
    assert "No entries match." in nobody
    refused = browser.get("/dashboard/audit/", {"after": "not a date"})
    assert refused.status_code == 200 and "form-errors" in refused.content.decode()


def test_connection_edits_are_audited_by_name_of_field_never_by_value(deploy_bot):
    from tests.integrations.test_api import CANARY, slack_payload

    client, token_id = deploy_bot
    created = client.post(f"{BASE}/connections", slack_payload(), format="json").json()
    url = f"{BASE}/connections/{created['id']}"
    secret = {"credentials": {"token": "xoxb-rotated-secret-value"}}
    assert client.patch(url, secret, format="json").status_code == 200
    assert client.delete(url).status_code == 204
    entries = audit(client, object_type="connection")
    assert [(e["action"], e["object_id"]) for e in entries] == [
        ("deleted", str(created["id"])),
        ("edited", str(created["id"])),
        ("created", str(created["id"])),
    ]
    assert entries[1]["detail"] == {
        "name": "Ops Slack",
        "platform": "slack",
        "changed": ["credentials"],
    }
    assert entries[0]["actor"] == {"kind": "token", "name": "deploy-bot", "id": token_id}
    stored = json.dumps(list(AuditEntry.objects.values("detail", "actor")))
    assert CANARY not in stored and "rotated-secret-value" not in stored


def test_alert_and_orchestration_edits_are_audited(deploy_bot):
    from tests.orchestration.test_api import VALID

    client, _ = deploy_bot
    alert = client.post(
        f"{BASE}/alerts", {"name": "Failures", "channel": "in_app"}, format="json"
    ).json()
    client.patch(f"{BASE}/alerts/{alert['id']}", {"throttle_s": 60}, format="json")
    client.patch(f"{BASE}/alerts/{alert['id']}", {"throttle_s": 60}, format="json")  # no change
    client.delete(f"{BASE}/alerts/{alert['id']}")
    orchestration = client.post(f"{BASE}/orchestrations", VALID, format="json").json()
    client.patch(
        f"{BASE}/orchestrations/{orchestration['id']}", {"is_active": False}, format="json"
    )
    client.delete(f"{BASE}/orchestrations/{orchestration['id']}")
    alerts = audit(client, object_type="alert")
    assert [e["action"] for e in alerts] == ["deleted", "edited", "created"]
    assert alerts[1]["detail"]["changed"] == ["throttle_s"]
    orchestrations = audit(client, object_type="orchestration")
    assert [e["action"] for e in orchestrations] == ["deleted", "edited", "created"]
    assert orchestrations[1]["detail"] == {"name": "Fan out", "changed": ["is_active"]}


def test_alert_edits_in_the_dashboard_and_deletions_in_the_admin_name_the_user(
    staff_user, admin_client, admin_user, deploy_bot
):
    from tests.dashboard.test_alerts import alert_form_data

    client, _ = deploy_bot
    browser = Client()
    browser.force_login(staff_user)
    browser.post("/dashboard/alerts/new/", alert_form_data())
    alert_id = audit(client, object_type="alert")[0]["object_id"]
    browser.post(f"/dashboard/alerts/{alert_id}/edit/", alert_form_data(name="Renamed"))
    admin_client.post(
        "/admin/alerts/automationalert/",
        {"action": "delete_selected", "_selected_action": [alert_id], "post": "yes"},
    )
    entries = audit(client, object_type="alert")
    assert [(e["action"], e["actor"]["name"]) for e in entries] == [
        ("deleted", admin_user.username),
        ("edited", staff_user.username),
        ("created", staff_user.username),
    ]
    assert "name" in entries[1]["detail"]["changed"]
