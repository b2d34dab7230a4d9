"""GET /metrics: who may read it, and what each family says about the rows in the database."""

import math
import subprocess
import sys
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from alerts.models import AlertDelivery
from tests.conftest import ROOT, process_env
from tests.factories import (
    AlertFactory,
    ConnectionFactory,
    ExecutionFactory,
    ExecutionStepFactory,
    UserFactory,
    WorkflowFactory,
)
from tests.ops.conftest import scrape
from workflows.models import AutomationExecution
from workflows.services.tokens import api_token_create

pytestmark = pytest.mark.django_db

METRICS_TOKEN = "scrape-me-please-0123456789"


# --- who may read ---------------------------------------------------------------------------------


def test_an_anonymous_scrape_is_refused_with_401_and_a_bearer_challenge():
    response = Client().get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'


def test_a_signed_in_user_who_is_not_staff_is_refused_with_403(plain_user):
    client = Client()
    client.force_login(plain_user)
    assert client.get("/metrics").status_code == 403


def test_a_plain_users_api_token_is_refused_with_403(plain_user):
    _, raw = api_token_create(user=plain_user)
    assert Client().get("/metrics", headers={"Authorization": f"Bearer {raw}"}).status_code == 403


def test_a_staff_session_reads_the_metrics(staff_client):
    assert "workflows_executions_queued" in scrape(staff_client).text


def test_a_staff_api_token_reads_the_metrics(staff_user):
    _, raw = api_token_create(user=staff_user)
    assert scrape(Client(), Authorization=f"Bearer {raw}").value("workflows_executions_queued") == 0


def test_the_metrics_token_reads_the_metrics_without_a_user(settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    result = scrape(Client(), Authorization=f"Bearer {METRICS_TOKEN}")
    assert result.value("workflows_executions_running") == 0


def test_a_wrong_bearer_token_is_refused_with_401(settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    response = Client().get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert response.status_code == 401


def test_without_a_metrics_token_set_an_empty_bearer_is_refused(settings):
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401


def test_posting_to_metrics_is_not_allowed(staff_client):
    assert staff_client.post("/metrics").status_code == 405


def test_an_openmetrics_scraper_gets_openmetrics(staff_client):
    response = staff_client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.decode().endswith("# EOF\n")


# --- what it says ---------------------------------------------------------------------------------


def test_finished_counters_are_the_workflows_own_counters(staff_client):
    workflow = WorkflowFactory(name="Nightly import", success_count=7, failure_count=2)
    result = scrape(staff_client)
    labels = {"workflow_id": str(workflow.pk), "workflow": "Nightly import"}
    assert result.value("workflows_executions_finished_total", **labels, status="completed") == 7
    assert result.value("workflows_executions_finished_total", **labels, status="failed") == 2


def test_recent_executions_are_counted_by_workflow_and_status_within_the_window(staff_client):
    workflow = WorkflowFactory()
    ExecutionFactory.create_batch(3, workflow=workflow, status="completed")
    ExecutionFactory(workflow=workflow, status="failed")
    old = ExecutionFactory(workflow=workflow, status="completed")
    AutomationExecution.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=2)
    )
    result = scrape(staff_client)
    mine = {"workflow_id": str(workflow.pk)}
    assert result.value("workflows_recent_executions", **mine, status="completed") == 3
    assert result.value("workflows_recent_executions", **mine, status="failed") == 1


def test_queue_depth_counts_queued_executions_that_are_due(staff_client):
    now = timezone.now()
    ExecutionFactory.create_batch(2, status="queued")
    ExecutionFactory(status="queued", next_attempt_at=now - timedelta(seconds=1))
    ExecutionFactory(status="queued", next_attempt_at=now + timedelta(minutes=5))
    ExecutionFactory(status="running", lease_expires_at=now + timedelta(minutes=1))
    ExecutionFactory(status="running", lease_expires_at=now - timedelta(minutes=1))
    result = scrape(staff_client)
    assert result.value("workflows_executions_queued") == 3
    assert result.value("workflows_executions_waiting_retry") == 1
    assert result.value("workflows_executions_running") == 2
    assert result.value("workflows_executions_lease_expired") == 1


def test_step_durations_fill_cumulative_buckets_by_action_type(staff_client):
    for ms in (30, 200, 2000):
        ExecutionStepFactory(step_type="api_call", execution_time_ms=ms)
    ExecutionStepFactory(step_type="api_call", status="skipped", execution_time_ms=0)
    result = scrape(staff_client)
    name = "workflows_recent_step_duration_seconds_bucket"
    assert result.value(name, action_type="api_call", le="0.05") == 1
    assert result.value(name, action_type="api_call", le="0.25") == 2
    assert result.value(name, action_type="api_call", le="1.0") == 2
    assert result.value(name, action_type="api_call", le="2.5") == 3
    assert result.value(name, action_type="api_call", le="+Inf") == 3
    assert result.value("workflows_recent_step_duration_seconds_gsum", action_type="api_call") == (
        pytest.approx(2.23)
    )


def test_execution_durations_are_a_histogram_per_workflow(staff_client):
    workflow = WorkflowFactory()
    ExecutionFactory(workflow=workflow, status="completed", execution_time_ms=400)
    ExecutionFactory(workflow=workflow, status="failed", execution_time_ms=45_000)
    ExecutionFactory(workflow=workflow, status="running")
    result = scrape(staff_client)
    name = "workflows_recent_execution_duration_seconds_bucket"
    assert result.value(name, workflow_id=str(workflow.pk), le="0.5") == 1
    assert result.value(name, workflow_id=str(workflow.pk), le="30.0") == 1
    assert result.value(name, workflow_id=str(workflow.pk), le="+Inf") == 2


def test_retries_are_the_tries_beyond_the_first(staff_client):
    ExecutionStepFactory(step_type="api_call", attempts=3)
    ExecutionStepFactory(step_type="api_call", attempts=2, status="retrying")
    ExecutionStepFactory(step_type="api_call", attempts=1)
    ExecutionStepFactory(step_type="transform", attempts=1)
    result = scrape(staff_client)
    assert result.value("workflows_recent_step_retries", action_type="api_call") == 3
    assert "transform" not in result.labels("workflows_recent_step_retries", "action_type")


def test_executions_claimed_more_than_once_are_counted_as_reclaimed(staff_client):
    workflow = WorkflowFactory()
    ExecutionFactory(workflow=workflow, attempt=1)
    ExecutionFactory(workflow=workflow, attempt=3)
    result = scrape(staff_client)
    reclaimed = "workflows_recent_executions_reclaimed"
    assert result.value(reclaimed, workflow_id=str(workflow.pk)) == 1


def test_http_responses_are_counted_by_platform_and_status_class(staff_client):
    slack = ConnectionFactory(platform="slack")
    ExecutionStepFactory(step_type="api_call", output={"status_code": 200})
    ExecutionStepFactory(step_type="monitor", output={"status_code": 204})
    ExecutionStepFactory(
        step_type="api_call",
        status="failed",
        input={"connection": slack.pk},
        output={"error": "HTTP 503", "response": {"status_code": 503}},
    )
    ExecutionStepFactory(step_type="api_call", status="failed", output={"error": "timed out"})
    ExecutionStepFactory(step_type="api_call", status="failed", attempts=0, output={"error": "x"})
    ExecutionStepFactory(step_type="transform", output={"status_code": 200})
    alert = AlertFactory(channel="slack", connection=slack)
    AlertDelivery.objects.create(alert=alert, event="execution.failed", severity="critical",
                                 fold_key="k", status="failed", response_code=429)  # fmt: skip
    result = scrape(staff_client)
    responses = "workflows_recent_http_responses"
    assert result.value(responses, platform="http", status_class="2xx") == 2
    assert result.value(responses, platform="http", status_class="error") == 1
    assert result.value(responses, platform="slack", status_class="5xx") == 1
    assert result.value(responses, platform="slack", status_class="4xx") == 1
    assert sum(s.value for s in result.samples if s.name == responses) == 5


def test_alert_deliveries_are_counted_by_channel_and_outcome(staff_client):
    AlertFactory(channel="in_app", success_count=4, failure_count=1)
    slack = AlertFactory(channel="slack", success_count=2, connection=ConnectionFactory())
    AlertDelivery.objects.create(alert=slack, event="execution.failed", severity="critical",
                                 fold_key="k")  # fmt: skip
    result = scrape(staff_client)
    total = "workflows_alert_deliveries_total"
    assert result.value(total, channel="in_app", outcome="sent") == 4
    assert result.value(total, channel="in_app", outcome="failed") == 1
    assert result.value(total, channel="slack", outcome="sent") == 2
    assert result.value("workflows_alert_deliveries_pending", channel="slack") == 1


def test_beat_heartbeat_age_is_the_time_since_the_sweep_last_ran(staff_client):
    every = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(
        name="workflows-sweep",
        task="workflows.sweep",
        interval=every,
        last_run_at=timezone.now() - timedelta(seconds=30),
    )
    age = scrape(staff_client).value("workflows_beat_heartbeat_age_seconds")
    assert 30 <= age < 40


def test_beat_heartbeat_age_is_infinite_when_beat_never_ran(staff_client):
    assert math.isinf(scrape(staff_client).value("workflows_beat_heartbeat_age_seconds"))


def test_no_worker_answering_reads_as_zero_workers_alive(staff_client):
    assert scrape(staff_client).value("workflows_workers_alive") == 0


def test_a_scrape_costs_the_same_queries_however_many_rows_there_are(
    staff_client, django_assert_max_num_queries
):
    for _ in range(5):
        workflow = WorkflowFactory()
        for execution in ExecutionFactory.create_batch(3, workflow=workflow):
            ExecutionStepFactory(execution=execution, step_type="api_call", attempts=2)
    UserFactory()  # the session lookup
    with django_assert_max_num_queries(15):
        scrape(staff_client)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("METRICS_TOKEN", "short", "METRICS_TOKEN must be at least 16 characters"),
        ("METRICS_WINDOW_S", "10", "METRICS_WINDOW_S must be at least 60, got 10"),
    ],
)
def test_a_bad_metrics_setting_stops_the_start_with_a_clear_error(variable, value, message):
    env = process_env(**{variable: value})
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode != 0
    assert message in result.stderr


def test_prometheus_may_scrape_over_plain_http_when_https_is_enforced(settings, staff_user):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    client.force_login(staff_user)
    assert client.get("/metrics").status_code == 200
    assert client.get("/admin/").status_code == 301
