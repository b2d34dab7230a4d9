"""Durable execution under faults: workers killed or paused, the broker lost, database
connections cut, poison steps, duplicate schedulers. Each test starts its own processes and
kills only those, and ends with the conservation audit (see conftest)."""

import collections
import os
import signal
import threading
import time

import pytest
from django.db import connection
from werkzeug import Response

from tests.conftest import wait_for
from tests.factories import WorkflowFactory
from tests.reliability.conftest import postgres_only
from workflows.models import AutomationExecution
from workflows.services.executions import execution_create
from workflows.services.workflows import workflow_create

pytestmark = pytest.mark.worker

OK = Response("{}", 200, content_type="application/json")


class CountingStub:
    """Counts requests per (path, Idempotency-Key); one path can hold its first request."""

    def __init__(self, httpserver, paths, hold: str | None = None) -> None:
        self.counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self.arrived, self.release = threading.Event(), threading.Event()
        self.hold = hold
        for path in paths:
            httpserver.expect_request(path).respond_with_handler(self.handle)
        self.url = httpserver.url_for

    def handle(self, request):
        self.counts[(request.path, request.headers.get("Idempotency-Key", ""))] += 1
        if request.path == self.hold and not self.arrived.is_set():
            self.arrived.set()
            self.release.wait(timeout=60)
        return OK

    def per_path(self) -> dict[str, int]:
        totals: collections.Counter[str] = collections.Counter()
        for (path, _key), count in self.counts.items():
            totals[path] += count
        return dict(totals)

    def keys(self, path: str) -> set[str]:
        return {key for (p, key) in self.counts if p == path}


def api_steps(stub: CountingStub, count: int) -> list[dict]:
    return [
        {"id": f"s{i}", "type": "api_call", "params": {"url": stub.url(f"/s{i}")}, "timeout_s": 30}
        for i in range(1, count + 1)
    ]


def finished(execution_id: int) -> AutomationExecution | None:
    execution = AutomationExecution.objects.get(pk=execution_id)
    return execution if execution.is_finished else None


def report(fault: str, seconds: float) -> None:
    print(f"\nrecovery[{fault}] = {seconds:.1f} s")


def test_a_worker_killed_during_step_3_of_5_resumes_without_repeating_steps_1_and_2(
    fast, start_worker, start_beat, threaded_httpserver
):
    stub = CountingStub(threaded_httpserver, [f"/s{i}" for i in range(1, 6)], hold="/s3")
    workflow = workflow_create(data={"name": "Five steps", "actions": api_steps(stub, 5)})
    doomed = start_worker(**fast)
    start_beat(**fast)
    execution, _ = execution_create(workflow=workflow, trigger_type="manual")
    assert stub.arrived.wait(timeout=30)
    doomed.kill()
    killed_at = time.monotonic()
    stub.release.set()
    start_worker(**fast)
    done = wait_for(lambda: finished(execution.pk), timeout_s=60)
    report("kill -9 mid-step", time.monotonic() - killed_at)
    assert done.status == "completed", done.error_message
    counts = stub.per_path()
    assert counts["/s1"] == counts["/s2"] == counts["/s4"] == counts["/s5"] == 1
    assert 1 <= counts["/s3"] <= 2
    assert stub.keys("/s3") == {f"{execution.pk}-s3"}
    assert done.steps.get(step_id="s2").attempts == 1


def test_a_paused_worker_that_wakes_up_after_losing_its_lease_is_refused(
    fast, start_worker, start_beat, threaded_httpserver
):
    stub = CountingStub(threaded_httpserver, ["/s1", "/s2", "/s3"], hold="/s2")
    workflow = workflow_create(data={"name": "Zombie", "actions": api_steps(stub, 3)})
    zombie = start_worker(**fast)
    start_beat(**fast)
    execution, _ = execution_create(workflow=workflow, trigger_type="manual")
    assert stub.arrived.wait(timeout=30)
    os.killpg(zombie.pid, signal.SIGSTOP)
    paused_at = time.monotonic()
    start_worker(**fast)
    done = wait_for(lambda: finished(execution.pk), timeout_s=60)
    report("SIGSTOP past the lease", time.monotonic() - paused_at)
    stub.release.set()
    os.killpg(zombie.pid, signal.SIGCONT)
    wait_for(lambda: b"superseded" in zombie.log_path.read_bytes(), timeout_s=30)
    done.refresh_from_db()
    assert done.status == "completed"
    assert done.attempt == 2
    assert stub.per_path() == {"/s1": 1, "/s2": 2, "/s3": 1}
    assert [step.status for step in done.steps.order_by("step_index")] == ["completed"] * 3


def transform_workflow():
    actions = [
        {"id": f"t{i}", "type": "transform", "params": {"values": {"n": i}}} for i in range(3)
    ]
    return workflow_create(data={"name": "No I/O", "actions": actions})


@pytest.mark.parametrize("fault", ["shutdown", "flushall"])
def test_every_accepted_execution_finishes_after_the_broker_loses_its_messages(
    fast, start_worker, start_beat, private_redis, fault
):
    broker = {**fast, "CELERY_BROKER_URL": private_redis.url}
    workflow = transform_workflow()
    start_worker(concurrency=2, **broker)
    start_beat(**broker)
    ids = [execution_create(workflow=workflow, trigger_type="manual")[0].pk for _ in range(200)]
    struck_at = time.monotonic()
    if fault == "shutdown":
        private_redis.shutdown()
        time.sleep(1)
        private_redis.start()
    else:
        private_redis.cli("FLUSHALL")
    executions = AutomationExecution.objects.filter(pk__in=ids)
    wait_for(lambda: executions.filter(status="completed").count() == 200, timeout_s=120)
    report(f"redis {fault} with 200 in flight", time.monotonic() - struck_at)


@postgres_only
def test_a_worker_whose_database_connection_is_cut_mid_run_reconnects_and_finishes(
    fast, start_worker, start_beat, threaded_httpserver
):
    stub = CountingStub(threaded_httpserver, ["/s1", "/s2"], hold="/s1")
    workflow = workflow_create(data={"name": "Cut", "actions": api_steps(stub, 2)})
    start_worker(DB_APPLICATION_NAME="fault-worker", **fast)
    start_beat(**fast)
    execution, _ = execution_create(workflow=workflow, trigger_type="manual")
    assert stub.arrived.wait(timeout=30)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'fault-worker'"
        )
        assert cursor.fetchone()[0] >= 1
    cut_at = time.monotonic()
    stub.release.set()
    done = wait_for(lambda: finished(execution.pk), timeout_s=60)
    report("pg_terminate_backend", time.monotonic() - cut_at)
    assert done.status == "completed", done.error_message
    assert stub.per_path()["/s2"] == 1


def _backends(application_name: str) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [application_name]
        )
        return {row[0] for row in cursor.fetchall()}


@postgres_only
def test_a_worker_keeps_its_database_connection_between_tasks_and_replaces_a_cut_one(
    fast, start_worker
):
    """Celery's Django fix-up would close the connection around every task (a new PostgreSQL
    session per execution); the worker keeps a healthy one and replaces a dead one before use."""
    workflow = transform_workflow()
    start_worker(DB_APPLICATION_NAME="reusing-worker", **fast)

    def run(count: int) -> None:
        ids = [
            execution_create(workflow=workflow, trigger_type="manual")[0].pk for _ in range(count)
        ]
        executions = AutomationExecution.objects.filter(pk__in=ids)
        wait_for(lambda: executions.filter(status="completed").count() == count, timeout_s=60)

    run(1)
    first = _backends("reusing-worker")
    assert first, "the worker holds no connection after its task"
    run(20)
    assert _backends("reusing-worker") == first
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'reusing-worker'"
        )
    run(5)  # the health check before the first query finds the cut connection and replaces it
    replaced = _backends("reusing-worker")
    assert replaced and not replaced & first


def test_a_step_that_kills_its_worker_every_time_fails_after_bounded_redeliveries(
    fast, settings, start_worker, start_beat
):
    poison = {**fast, "ACTION_TYPES_EXTRA": "crash=tests.reliability.actions.CrashAction"}
    poison["EXECUTION_MAX_DELIVERIES"] = "2"
    workflow = WorkflowFactory(actions=[{"id": "boom", "type": "crash", "params": {}}])
    start_worker(**poison)
    start_beat(**poison)
    execution, _ = execution_create(workflow=workflow, trigger_type="manual")
    started = time.monotonic()
    done = wait_for(lambda: finished(execution.pk), timeout_s=90, interval_s=0.5)
    report("poison step", time.monotonic() - started)
    assert done.status == "failed"
    assert "deliveries" in done.error_message


def test_two_beats_over_three_slots_start_exactly_three_executions(fast, start_worker, start_beat):
    actions = [{"id": "t", "type": "transform", "params": {"values": {"x": 1}}}]
    workflow = workflow_create(
        data={
            "name": "Every 2 s",
            "trigger": {"type": "schedule", "interval_s": 2},
            "actions": actions,
        }
    )
    start_worker(**fast)
    beats = [start_beat(**fast), start_beat(**fast)]
    executions = AutomationExecution.objects.filter(workflow=workflow)
    wait_for(lambda: executions.count() >= 3, timeout_s=30, interval_s=0.05)
    for beat in beats:
        beat.kill()
    wait_for(lambda: executions.filter(status="completed").count() == 3, timeout_s=30)
    assert executions.count() == 3
    assert len(set(executions.values_list("scheduled_for", flat=True))) == 3
    sent = sum(b.log_path.read_text().count("Sending due task workflow-") for b in beats)
    assert sent > 3
