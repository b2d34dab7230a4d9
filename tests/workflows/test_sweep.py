"""The sweep that recovers lost work, and retention."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import WorkflowFactory
from workflows.models import AutomationExecution, BrokerWatermark
from workflows.services.executions import execution_create
from workflows.services.housekeeping import execution_prune, execution_sweep

pytestmark = pytest.mark.django_db


def make(**fields) -> AutomationExecution:
    execution, _ = execution_create(workflow=WorkflowFactory(), trigger_type="manual")
    AutomationExecution.objects.filter(pk=execution.pk).update(**fields)
    return execution


def test_it_resends_a_queued_execution_whose_message_was_lost(settings):
    long_ago = timezone.now() - timedelta(minutes=5)
    lost = make(dispatched_at=long_ago)
    # Lost once a sweep has seen its message gone for the whole grace period, not before.
    BrokerWatermark.objects.create(
        observed_at=timezone.now() - timedelta(seconds=settings.EXECUTION_REQUEUE_AFTER_S + 1),
        watermark=timezone.now() - timedelta(minutes=1),
    )
    assert execution_sweep() == 1
    lost.refresh_from_db()
    assert lost.dispatched_at > long_ago


def test_it_leaves_a_freshly_sent_execution_alone():
    make()
    assert execution_sweep() == 0


def test_without_an_observation_past_the_grace_it_presumes_nothing_lost():
    make(dispatched_at=timezone.now() - timedelta(minutes=5))
    assert execution_sweep() == 0


def test_it_resends_a_running_execution_whose_lease_expired():
    expired = timezone.now() - timedelta(seconds=1)
    make(status="running", lease_expires_at=expired, dispatched_at=None)
    make(status="running", lease_expires_at=timezone.now() + timedelta(minutes=1))
    assert execution_sweep() == 1


def test_it_sends_a_retry_once_it_is_due_and_not_before():
    make(next_attempt_at=timezone.now() + timedelta(minutes=5), dispatched_at=None)
    assert execution_sweep() == 0
    assert execution_sweep(now=timezone.now() + timedelta(minutes=6)) == 1


def test_prune_deletes_old_finished_executions_in_batches_and_keeps_the_rest(settings):
    settings.EXECUTION_RETENTION_DAYS = 30
    old = timezone.now() - timedelta(days=31)
    for _ in range(5):
        execution = make(status="completed")
        AutomationExecution.objects.filter(pk=execution.pk).update(created_at=old)
    old_but_running = make(status="running")
    AutomationExecution.objects.filter(pk=old_but_running.pk).update(created_at=old)
    recent = make(status="failed")
    assert execution_prune(batch=2) == 5
    assert set(AutomationExecution.objects.values_list("pk", flat=True)) == {
        old_but_running.pk,
        recent.pk,
    }
