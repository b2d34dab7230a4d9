"""'Did not happen' alerts (execution.missing): a workflow without a successful run — or, by
quiet_counts, without any execution — for quiet_minutes fires its alert once per window."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.messages import message_compose
from alerts.models import AlertDelivery, AutomationAlert
from alerts.services.firing import alerts_fire_for_silence
from alerts.tasks import silence_check
from tests.factories import WorkflowFactory
from workflows.models import AutomationExecution

pytestmark = pytest.mark.django_db

BASE = "/api/workflow-orchestration"


def watching(
    workflow, minutes=60, counts="success", made_ago=timedelta(hours=3)
) -> AutomationAlert:
    alert = AutomationAlert.objects.create(
        name="Digest went quiet",
        workflow=workflow,
        alert_type="absence",
        channel="in_app",
        events=["execution.missing"],
        quiet_minutes=minutes,
        quiet_counts=counts,
    )
    AutomationAlert.objects.filter(pk=alert.pk).update(created_at=timezone.now() - made_ago)
    return AutomationAlert.objects.get(pk=alert.pk)


def ran(workflow, status="completed", ago=timedelta(minutes=5)) -> None:
    moment = timezone.now() - ago
    execution = AutomationExecution.objects.create(
        workflow=workflow, trigger_type="manual", status=status, completed_at=moment
    )
    AutomationExecution.objects.filter(pk=execution.pk).update(created_at=moment)


def deliveries(alert) -> list[AlertDelivery]:
    return list(AlertDelivery.objects.filter(alert=alert, event="execution.missing"))


def test_a_silent_workflow_fires_once_per_window_with_a_readable_message():
    workflow = WorkflowFactory(name="Daily digest")
    alert = watching(workflow)
    ran(workflow, ago=timedelta(hours=2))
    now = timezone.now()
    assert alerts_fire_for_silence(now=now) == 1
    delivery = deliveries(alert)[0]
    assert delivery.payload["workflow"] == {"id": workflow.pk, "name": "Daily digest"}
    assert delivery.payload["last_at"] is not None
    message = message_compose(payload=delivery.payload)
    assert message.title == "Did not happen: workflow 'Daily digest'"
    assert "No successful run of workflow 'Daily digest' in the last 60 min" in message.text
    # Within the same window: once only.
    assert alerts_fire_for_silence(now=now + timedelta(minutes=30)) == 0
    # A whole window later and still silent: again.
    assert alerts_fire_for_silence(now=now + timedelta(minutes=61)) == 1
    assert len(deliveries(alert)) == 2


def test_a_recent_success_keeps_it_quiet_but_a_failure_does_not():
    workflow = WorkflowFactory()
    watching(workflow)
    ran(workflow, status="failed", ago=timedelta(minutes=5))
    assert silence_check() == 1
    other = WorkflowFactory()
    watching(other)
    ran(other, status="completed", ago=timedelta(minutes=5))
    assert alerts_fire_for_silence() == 0


def test_counting_any_execution_a_failure_keeps_it_quiet():
    workflow = WorkflowFactory()
    alert = watching(workflow, counts="execution")
    ran(workflow, status="failed", ago=timedelta(minutes=5))
    assert alerts_fire_for_silence() == 0
    assert deliveries(alert) == []


def test_a_new_alert_gives_the_workflow_a_whole_window_first():
    workflow = WorkflowFactory()
    watching(workflow, made_ago=timedelta(minutes=10))
    assert alerts_fire_for_silence() == 0
    assert alerts_fire_for_silence(now=timezone.now() + timedelta(minutes=51)) == 1


def test_an_inactive_alert_never_fires():
    workflow = WorkflowFactory()
    alert = watching(workflow)
    AutomationAlert.objects.filter(pk=alert.pk).update(is_active=False)
    assert alerts_fire_for_silence() == 0


def test_the_api_creates_one_and_refuses_half_of_one(api):
    workflow = WorkflowFactory()
    body = {"name": "Quiet", "alert_type": "absence", "channel": "in_app"}
    created = api.post(
        f"{BASE}/alerts", {**body, "workflow": workflow.pk, "quiet_minutes": 90}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert (created.json()["events"], created.json()["quiet_counts"]) == (
        ["execution.missing"],
        "success",
    )
    no_minutes = api.post(f"{BASE}/alerts", {**body, "workflow": workflow.pk}, format="json")
    assert "quiet_minutes" in no_minutes.json()
    no_workflow = api.post(f"{BASE}/alerts", {**body, "quiet_minutes": 5}, format="json")
    assert "workflow" in no_workflow.json()
    stray = api.post(
        f"{BASE}/alerts", {"name": "x", "channel": "in_app", "quiet_minutes": 5}, format="json"
    )
    assert "quiet_minutes" in stray.json()
    too_long = api.post(
        f"{BASE}/alerts", {**body, "workflow": workflow.pk, "quiet_minutes": 10**6}, format="json"
    )
    assert "quiet_minutes" in too_long.json()
    assert AutomationAlert.objects.count() == 1
