"""System health: each component probed for real; down, degraded or ok; cheap when polled."""

import os
import signal
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from analytics.models import Heartbeat
from analytics.selectors import health
from analytics.selectors.health import health_cache_clear, system_health
from analytics.services import heartbeat_stamp
from tests.conftest import wait_for
from tests.factories import WorkflowFactory
from workflows.services.executions import execution_create

BASE = "/api/workflow-orchestration"
UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"


@pytest.mark.django_db
def test_every_component_is_reported_with_its_latency():
    components = system_health()["components"]
    assert set(components) == {"database", "broker", "workers", "scheduler", "queue"}
    for component in components.values():
        assert isinstance(component["ok"], bool)
        assert component["latency_ms"] >= 0
        assert component["detail"]


@pytest.mark.django_db
def test_without_workers_or_beat_the_system_is_degraded_not_down(settings):
    settings.CELERY_TASK_DEFAULT_QUEUE = "analytics"
    report = system_health()
    assert report["status"] == "degraded"
    assert report["components"]["workers"] == {
        **report["components"]["workers"],
        "ok": False,
        "count": 0,
        "detail": "no worker of queue 'analytics' answered",
    }
    assert report["components"]["scheduler"]["detail"] == "no heartbeat from Celery Beat yet"
    assert APIClient().get(f"{BASE}/health").status_code == 200


@pytest.mark.django_db
def test_a_fresh_beat_heartbeat_makes_the_scheduler_healthy():
    heartbeat_stamp()
    scheduler = system_health()["components"]["scheduler"]
    assert scheduler["ok"] is True
    assert scheduler["age_s"] < 5


@pytest.mark.django_db
def test_a_stale_beat_heartbeat_makes_the_scheduler_unhealthy(settings):
    settings.ANALYTICS_BEAT_STALE_S = 60
    Heartbeat.objects.create(name=Heartbeat.BEAT, beat_at=timezone.now() - timedelta(minutes=2))
    scheduler = system_health()["components"]["scheduler"]
    assert scheduler["ok"] is False
    assert "Beat, or every worker, is down" in scheduler["detail"]
    assert scheduler["age_s"] >= 120


@pytest.mark.django_db
def test_an_unreachable_broker_is_down_and_answers_503(settings):
    settings.CELERY_BROKER_URL = UNREACHABLE_BROKER
    response = APIClient().get(f"{BASE}/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["components"]["broker"]["ok"] is False
    assert body["components"]["database"]["ok"] is True
    assert body["components"]["workers"]["detail"].startswith("broker unreachable")
    assert body["components"]["queue"]["broker_queue_length"] is None


def test_an_unreachable_database_is_down_and_answers_503():
    # Without the django_db mark every query fails, as with a database that went away.
    response = APIClient().get(f"{BASE}/health")
    assert response.status_code == 503
    components = response.json()["components"]
    assert components["database"]["ok"] is False
    assert components["scheduler"]["ok"] is False
    assert components["queue"]["ok"] is False
    assert components["broker"]["ok"] is True


@pytest.mark.django_db
def test_a_cache_outage_does_not_fail_the_health_check(settings, monkeypatch):
    settings.ANALYTICS_HEALTH_CACHE_S = 5

    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(health.cache, "get", broken)
    monkeypatch.setattr(health.cache, "set", broken)
    assert system_health()["components"]["workers"]["ok"] is False  # probed, not cached


@pytest.mark.django_db
def test_a_broker_password_never_shows_in_the_report(settings):
    settings.CELERY_BROKER_URL = "redis://:hunter2-broker-password@127.0.0.1:1/0"
    response = APIClient().get(f"{BASE}/health")
    assert response.status_code == 503
    assert "hunter2-broker-password" not in response.content.decode()


@pytest.mark.django_db
def test_the_queue_counts_queued_executions_and_broker_messages(
    django_capture_on_commit_callbacks, settings
):
    with django_capture_on_commit_callbacks(execute=True):
        execution_create(workflow=WorkflowFactory(), trigger_type="manual", payload={})
    queue = system_health()["components"]["queue"]
    assert queue["queued_executions"] == 1
    assert queue["broker_queue_length"] >= 1
    bulk = next(
        lane for lane in queue["lanes"] if lane["name"] == settings.CELERY_TASK_DEFAULT_QUEUE
    )
    assert bulk["length"] >= 1
    assert bulk["oldest_age_s"] is not None
    assert queue["detail"].startswith("1 executions queued, oldest waiting")


@pytest.mark.worker
def test_a_live_worker_makes_it_ok_and_stopping_it_makes_it_degraded(start_worker, settings):
    settings.ANALYTICS_WORKER_PING_TIMEOUT_S = 1.0
    worker = start_worker()
    heartbeat_stamp()
    report = system_health()
    assert report["status"] == "ok", report
    assert report["components"]["workers"]["count"] == 1
    worker.kill()
    after = system_health()
    assert after["status"] == "degraded"
    assert after["components"]["workers"]["ok"] is False
    assert after["components"]["workers"]["count"] == 0
    assert APIClient().get(f"{BASE}/health").status_code == 200


@pytest.mark.worker
def test_a_worker_that_answers_late_within_the_ping_timeout_is_counted(start_worker, settings):
    """The ping collects replies for the whole timeout on every broker: a worker busy (here:
    stopped) for 0.5 s still answers a 3 s ping. The embedded broker's polls are 0.05 s, and
    a collection cut short at the first of them reported such a worker missing."""
    settings.ANALYTICS_WORKER_PING_TIMEOUT_S = 3.0
    worker = start_worker()
    os.kill(worker.pid, signal.SIGSTOP)
    resume = threading.Timer(0.5, os.kill, (worker.pid, signal.SIGCONT))
    resume.start()
    try:
        workers = system_health()["components"]["workers"]
    finally:
        resume.join()
    assert workers["ok"] is True, workers
    assert workers["count"] == 1


@pytest.mark.worker
def test_beat_stamps_its_heartbeat_through_a_worker(start_worker, start_beat):
    start_worker()
    start_beat(ANALYTICS_BEAT_HEARTBEAT_S="1")
    wait_for(lambda: Heartbeat.objects.filter(name=Heartbeat.BEAT).exists(), timeout_s=30)
    assert system_health()["components"]["scheduler"]["ok"] is True


class CountingProbe:
    """Counts the broker-side probes (the slow ones) while still running them."""

    def __init__(self, monkeypatch):
        self.calls = 0
        self.real = health._broker_side
        monkeypatch.setattr(health, "_broker_side", self)

    def __call__(self):
        self.calls += 1
        return self.real()


@pytest.mark.django_db
def test_the_slow_probes_are_cached_between_polls(settings, monkeypatch):
    settings.ANALYTICS_HEALTH_CACHE_S = 60
    probe = CountingProbe(monkeypatch)
    system_health()
    for _ in range(5):
        workers = system_health()["components"]["workers"]
    assert probe.calls == 1
    assert workers["cached_s_ago"] >= 0
    health_cache_clear()
    system_health()
    assert probe.calls == 2


@pytest.mark.django_db
def test_a_stale_result_is_answered_at_once_while_it_is_refreshed(settings, monkeypatch):
    settings.ANALYTICS_HEALTH_CACHE_S = 0.05
    settings.ANALYTICS_WORKER_PING_TIMEOUT_S = 0.5
    probe = CountingProbe(monkeypatch)
    system_health()
    time.sleep(0.1)
    started = time.monotonic()
    stale = system_health()["components"]["workers"]
    assert time.monotonic() - started < 0.4  # did not wait for the 0.5 s ping
    assert stale["cached_s_ago"] >= 0.05
    wait_for(lambda: probe.calls == 2, timeout_s=5)
    wait_for(lambda: all(t.name != "health-refresh" for t in threading.enumerate()), timeout_s=5)


@pytest.mark.django_db
def test_work_waiting_past_the_lag_limit_makes_the_system_degraded(settings):
    settings.QUEUE_LAG_DEGRADED_S = 60
    execution, _ = execution_create(workflow=WorkflowFactory(), trigger_type="manual", payload={})
    type(execution).objects.filter(pk=execution.pk).update(
        created_at=timezone.now() - timedelta(seconds=90)
    )
    report = system_health()
    queue = report["components"]["queue"]
    assert not queue["ok"]
    assert queue["oldest_queued_age_s"] >= 90
    assert "QUEUE_LAG_DEGRADED_S" in queue["detail"]
    assert report["status"] in ("degraded", "down")


@pytest.mark.django_db
def test_executions_parked_by_max_concurrency_are_not_lag(settings):
    settings.QUEUE_LAG_DEGRADED_S = 60
    workflow = WorkflowFactory(max_concurrency=1)
    execution, _ = execution_create(workflow=workflow, trigger_type="manual", payload={})
    type(execution).objects.filter(pk=execution.pk).update(
        created_at=timezone.now() - timedelta(seconds=90)
    )
    assert system_health()["components"]["queue"]["oldest_queued_age_s"] is None
