"""Runs as records: claimed once, finished once, and recovered by the sweep."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orchestration.models import OrchestrationRun
from orchestration.services import (
    OrchestrationInactive,
    orchestration_run_create,
    orchestration_run_execute,
    orchestration_run_sweep,
)
from orchestration.tasks import run_orchestration
from tests.factories import OrchestrationFactory
from tests.orchestration.conftest import Reply, run_now
from workflows.models import BrokerWatermark

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]


def test_a_finished_run_is_not_run_again(stub):
    stub.route("/x", Reply(200))
    orchestration = OrchestrationFactory(api_calls=[{"id": "x", "url": stub.url("/x")}])
    run = run_now(orchestration)
    run_orchestration(run.pk)
    assert orchestration_run_execute(run_id=run.pk) is None
    assert len(stub.received) == 1
    orchestration.refresh_from_db()
    assert orchestration.success_count == 1


def test_a_queued_run_keeps_the_definition_it_was_queued_with(stub):
    stub.route("/old", Reply(200))
    orchestration = OrchestrationFactory(api_calls=[{"id": "x", "url": stub.url("/old")}])
    run = orchestration_run_create(orchestration=orchestration, input={}, dispatch=False)
    orchestration.api_calls = [{"id": "x", "url": stub.url("/new")}]
    orchestration.save()
    run_orchestration(run.pk)
    assert [request.path for request in stub.received] == ["/old"]


def test_an_inactive_orchestration_refuses_new_runs():
    with pytest.raises(OrchestrationInactive):
        orchestration_run_create(
            orchestration=OrchestrationFactory(is_active=False), input={}, dispatch=False
        )


def test_the_sweep_resends_a_run_whose_message_was_lost(
    django_capture_on_commit_callbacks, settings
):
    orchestration = OrchestrationFactory()
    BrokerWatermark.objects.create(
        observed_at=timezone.now() - timedelta(seconds=settings.EXECUTION_REQUEUE_AFTER_S + 1),
        watermark=timezone.now() - timedelta(minutes=1),
    )
    long_ago = timezone.now() - timedelta(minutes=5)
    lost = OrchestrationRun.objects.create(
        orchestration=orchestration, definition={}, dispatched_at=long_ago
    )
    fresh = OrchestrationRun.objects.create(
        orchestration=orchestration, definition={}, dispatched_at=timezone.now()
    )
    with django_capture_on_commit_callbacks() as callbacks:
        assert orchestration_run_sweep() == 1
    assert len(callbacks) == 1
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert lost.dispatched_at > long_ago
    assert fresh.status == lost.status == "queued"


def test_the_sweep_fails_a_run_whose_worker_died(settings):
    orchestration = OrchestrationFactory()
    started = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 120)
    dead = OrchestrationRun.objects.create(
        orchestration=orchestration, definition={}, status="running", started_at=started
    )
    alive = OrchestrationRun.objects.create(
        orchestration=orchestration, definition={}, status="running", started_at=timezone.now()
    )
    assert orchestration_run_sweep() == 1
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert (dead.status, dead.retryable, alive.status) == ("failed", True, "running")
    assert "worker running this orchestration stopped" in dead.error
    orchestration.refresh_from_db()
    assert orchestration.failure_count == 1


def test_a_run_that_cannot_be_run_still_ends_as_failed():
    orchestration = OrchestrationFactory()
    run = OrchestrationRun.objects.create(
        orchestration=orchestration, definition={"type": "retired_pattern", "api_calls": []}
    )
    finished = orchestration_run_execute(run_id=run.pk)
    assert finished is not None
    assert (finished.status, finished.error) == ("failed", "Internal error: KeyError")
    assert finished.completed_at is not None
