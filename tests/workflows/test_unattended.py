"""Unattended correctness: times that add up, counters that equal the rows, every attempt kept,
cancels that leave nothing under way, events that survive a crash, edits that never collide."""

import logging
import threading
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from werkzeug import Response

from alerts.models import AlertDelivery
from tests.factories import AlertFactory, WorkflowFactory
from workflows import events
from workflows.engine import Runner, StaleAttempt, execution_claim, execution_run
from workflows.lease import LeaseKeeper
from workflows.models import AutomationExecution, AutomationWorkflow, KernelEvent
from workflows.services.executions import (
    execution_cancel,
    execution_create,
    execution_decide,
    execution_retry,
)
from workflows.services.workflows import workflow_update

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]

TRANSFORM = {"id": "t", "type": "transform", "params": {"values": {"x": 1}}}


def editor():
    """A staff member: anyone on the staff decides an approval that names no approvers."""
    return get_user_model().objects.get_or_create(username="editor", defaults={"is_staff": True})[0]


def create(workflow, **kwargs) -> AutomationExecution:
    execution, _ = execution_create(workflow=workflow, trigger_type="manual", **kwargs)
    return execution


def run(execution: AutomationExecution) -> AutomationExecution:
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    return execution


def make_due(execution: AutomationExecution) -> None:
    AutomationExecution.objects.filter(pk=execution.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def flaky(httpserver, *statuses: int) -> str:
    answers = iter([Response("{}", status) for status in statuses])
    httpserver.expect_request("/flaky").respond_with_handler(lambda request: next(answers))
    return httpserver.url_for("/flaky")


def retried_call(url: str) -> dict:
    return {
        "id": "call",
        "type": "api_call",
        "params": {"url": url},
        "retry": {"max_attempts": 3, "backoff": "fixed", "delay_s": 600},
    }


# --- time -----------------------------------------------------------------------------------------


def test_a_retried_step_keeps_its_active_time_apart_from_the_backoff(httpserver):
    workflow = WorkflowFactory(actions=[retried_call(flaky(httpserver, 503, 200))])
    execution = run(create(workflow))
    assert execution.status == "queued"  # waiting out a 600 s backoff
    AutomationExecution.objects.filter(pk=execution.pk).update(
        created_at=timezone.now() - timedelta(minutes=11)
    )
    make_due(execution)
    execution = run(execution)
    assert execution.status == "completed", execution.error_message
    step = execution.steps.get()
    assert step.execution_time_ms < 5_000  # two quick requests, not the 10 min between them
    assert execution.execution_time_ms == step.execution_time_ms
    assert execution.wall_time_ms >= 11 * 60 * 1000
    assert [entry["status"] for entry in step.attempt_history] == ["failed", "completed"]
    assert step.execution_time_ms == sum(e["execution_time_ms"] for e in step.attempt_history)


def test_a_run_that_waited_26_days_finishes_with_its_wall_time(django_capture_on_commit_callbacks):
    workflow = WorkflowFactory(
        actions=[{"id": "hold", "type": "approval", "params": {"message": "Ship it?"}}, TRANSFORM]
    )
    execution = run(create(workflow))
    assert execution.status == "waiting"
    AutomationExecution.objects.filter(pk=execution.pk).update(
        created_at=timezone.now() - timedelta(days=26)
    )
    execution_decide(execution=execution, approved=True, user=editor())
    execution = run(execution)
    assert execution.status == "completed", execution.error_message
    assert execution.wall_time_ms > 2**31  # past a 32-bit column's range
    assert execution.execution_time_ms < 60_000


def test_an_execution_given_up_after_26_days_is_failed_not_looped():
    workflow = WorkflowFactory(actions=[TRANSFORM])
    execution = create(workflow)
    AutomationExecution.objects.filter(pk=execution.pk).update(
        created_at=timezone.now() - timedelta(days=26), deliveries=99
    )
    execution = run(execution)
    assert execution.status == "failed"
    assert "Gave up after" in execution.error_message
    assert execution.wall_time_ms > 2**31


# --- attempts -------------------------------------------------------------------------------------


def test_retrying_a_failed_execution_adds_an_attempt_and_overwrites_none(httpserver):
    workflow = WorkflowFactory(
        actions=[{"id": "call", "type": "api_call", "params": {"url": flaky(httpserver, 400, 200)}}]
    )
    execution = run(create(workflow))
    assert execution.status == "failed"
    execution_retry(execution=execution)
    execution = run(execution)
    assert execution.status == "completed", execution.error_message
    step = execution.steps.get()
    assert step.attempts == 2
    first, second = step.attempt_history
    assert (first["attempt"], first["status"]) == (1, "failed")
    assert "400" in first["error_message"]
    assert first["input"]["url"].endswith("/flaky")
    assert (second["attempt"], second["status"], second["error_message"]) == (2, "completed", "")


# --- counters -------------------------------------------------------------------------------------


def test_counters_equal_the_rows_after_retries_cancels_and_waits(httpserver):
    httpserver.expect_request("/ok").respond_with_json({})
    httpserver.expect_request("/bad").respond_with_data("no", status=400)
    flaky(httpserver, 400, 200)
    workflow = WorkflowFactory(
        actions=[
            {"id": "hold", "type": "approval", "condition": "trigger.hold",
             "params": {"message": "Go?"}},
            {"id": "call", "type": "api_call", "params": {"url": "{{ trigger.url }}"}},
        ]
    )  # fmt: skip

    def start(path: str, hold: bool = False) -> AutomationExecution:
        return run(create(workflow, payload={"url": httpserver.url_for(path), "hold": hold}))

    start("/ok")  # completed
    failing = start("/bad")  # failed, retried, failed again: one failure
    execution_retry(execution=failing)
    run(failing)
    execution_cancel(execution=create(workflow, payload={"url": "x", "hold": False}))
    recovering = start("/flaky")  # failed, retried to completion: one success
    execution_retry(execution=recovering)
    run(recovering)
    waited = start("/ok", hold=True)  # paused for an approval, then completed
    execution_decide(execution=waited, approved=True, user=editor())
    run(waited)

    workflow.refresh_from_db()
    rows = AutomationExecution.objects.filter(workflow=workflow)
    completed, failed = rows.filter(status="completed"), rows.filter(status="failed")
    assert (completed.count(), failed.count(), rows.filter(status="cancelled").count()) == (3, 1, 1)
    assert workflow.success_count == completed.count()
    assert workflow.failure_count == failed.count()
    assert workflow.run_count == completed.count() + failed.count()
    times = [row.execution_time_ms for row in [*completed, *failed]]
    assert workflow.avg_execution_time_ms == pytest.approx(sum(times) / len(times), abs=1)


# --- cancels --------------------------------------------------------------------------------------


def test_a_cancel_during_a_retry_wait_leaves_no_step_under_way(httpserver):
    workflow = WorkflowFactory(actions=[retried_call(flaky(httpserver, 503))])
    execution = run(create(workflow))
    assert execution.steps.get().status == "retrying"
    execution_cancel(execution=execution)
    execution.refresh_from_db()
    assert execution.status == "cancelled"
    assert execution.steps.get().status == "cancelled"


def test_a_cancel_of_a_paused_execution_leaves_no_step_waiting():
    workflow = WorkflowFactory(
        actions=[{"id": "hold", "type": "approval", "params": {"message": "Ship it?"}}]
    )
    execution = run(create(workflow))
    execution_cancel(execution=execution)
    assert execution.steps.get().status == "cancelled"


def test_a_cancel_of_a_dead_workers_run_ends_it_now_and_refuses_the_zombie(httpserver):
    httpserver.expect_request("/x").respond_with_json({})
    workflow = WorkflowFactory(
        max_concurrency=1,
        actions=[{"id": "call", "type": "api_call", "params": {"url": httpserver.url_for("/x")}}],
    )
    execution = create(workflow)
    parked = create(workflow)
    zombie = execution_claim(execution_id=execution.pk, worker="dead")
    AutomationExecution.objects.filter(pk=execution.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=5)
    )
    execution_cancel(execution=execution)
    execution.refresh_from_db()
    assert execution.status == "cancelled"
    with pytest.raises(StaleAttempt):
        Runner(zombie).run()
    assert execution_claim(execution_id=parked.pk, worker="alive") is not None  # slot freed


# --- events ---------------------------------------------------------------------------------------


def test_an_alert_survives_a_crash_between_the_commit_and_its_subscribers():
    AlertFactory(events=["execution.failed", "step.failed"])  # in-app
    workflow = WorkflowFactory(actions=[{"id": "bad", "type": "no_such_type", "params": {}}])
    # No on-commit callback runs: as if the worker died right after the commit.
    execution = run(create(workflow))
    assert execution.status == "failed"
    assert not AlertDelivery.objects.exists()
    assert KernelEvent.objects.filter(processed_at__isnull=True).count() == 2  # step + execution
    processed = events.events_sweep(now=timezone.now() + timedelta(minutes=1))
    assert processed == 2
    assert AlertDelivery.objects.filter(event="execution.failed").count() == 1


def test_an_event_no_alert_rule_hears_is_not_recorded():
    failing = [{"id": "bad", "type": "no_such_type", "params": {}}]
    workflow, other = WorkflowFactory(actions=failing), WorkflowFactory(actions=failing)
    AlertFactory(workflow=other, events=["execution.failed", "step.failed"])
    AlertFactory(events=["execution.completed"])  # global, but another event
    AlertFactory(events=["execution.failed"], is_active=False)
    run(create(workflow))
    assert not KernelEvent.objects.exists()
    AlertFactory(events=["step.failed"])  # global: hears every workflow's failed steps
    run(create(workflow))
    assert list(KernelEvent.objects.values_list("name", flat=True)) == [events.STEP_FAILED]
    run(create(other))
    assert KernelEvent.objects.filter(name=events.EXECUTION_FINISHED).count() == 1


def test_a_subscriber_that_fails_leaves_the_event_pending_and_loses_nothing(monkeypatch):
    def broken(**payload):
        raise RuntimeError("alerts are down")

    AlertFactory()
    workflow = WorkflowFactory(actions=[{"id": "bad", "type": "no_such_type", "params": {}}])
    monkeypatch.setattr(events, "_subscribers", {events.EXECUTION_FINISHED: [broken]})
    run(create(workflow))
    event = KernelEvent.objects.get(name=events.EXECUTION_FINISHED)
    assert not events.event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.processed_at is None
    assert "alerts are down" in event.last_error
    monkeypatch.undo()
    assert events.event_process(event_id=event.pk)
    assert AlertDelivery.objects.filter(event="execution.failed").count() == 1


# --- edits and leases -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_edits_get_two_versions():
    workflow = WorkflowFactory(actions=[TRANSFORM])
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def edit(value: int) -> None:
        try:
            barrier.wait()
            stale = AutomationWorkflow.objects.get(pk=workflow.pk)  # both read version 1
            action = {"id": "t", "type": "transform", "params": {"values": {"x": value}}}
            workflow_update(workflow=stale, data={"actions": [action]})
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=edit, args=(value,)) for value in (2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    workflow.refresh_from_db()
    assert workflow.version == 3
    # The factory records no first revision: each edit recorded its own, numbered in turn.
    assert sorted(workflow.revisions.values_list("number", flat=True)) == [1, 2]


def test_a_lease_that_ends_with_the_run_logs_no_warning(caplog):
    execution = run(create(WorkflowFactory(actions=[TRANSFORM])))
    keeper = LeaseKeeper(execution.pk, execution.attempt)
    with caplog.at_level(logging.WARNING, logger="workflows.lease"):
        assert not keeper.renew()
        keeper._lost()
    assert [record for record in caplog.records if record.name == "workflows.lease"] == []
    AutomationExecution.objects.filter(pk=execution.pk).update(attempt=execution.attempt + 1)
    with caplog.at_level(logging.WARNING, logger="workflows.lease"):
        keeper._lost()
    assert "lost its lease" in caplog.text
