"""The operator's manage.py commands: run_workflow, executions, sweep, prune_executions and
create_staff_user, each with its help and its errors (exit code 2 for bad arguments)."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command, execute_from_command_line
from django.utils import timezone

from tests.factories import ExecutionFactory, ExecutionStepFactory, WorkflowFactory
from workflows.models import AutomationExecution, AutomationExecutionStep, BrokerWatermark
from workflows.services.tokens import token_digest

COMMANDS = ["run_workflow", "executions", "sweep", "prune_executions", "create_staff_user"]


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run ``manage.py <argv>`` in this process as a shell would: (exit code, stdout, stderr).

    The command line closes every database connection when a command ends; here that would close
    the test's own, so it is left open.
    """
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            execute_from_command_line(["manage.py", *argv])
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run


def call(*argv: str, **options) -> str:
    out = io.StringIO()
    call_command(*argv, stdout=out, **options)
    return out.getvalue()


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_explains_itself_with_help(name, cli):
    code, out, _ = cli(name, "--help")
    assert code == 0
    assert f"usage: manage.py {name}" in out
    assert "--max-polls" not in out


# --- run_workflow ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_run_workflow_starts_the_named_workflow_with_the_payload():
    workflow = WorkflowFactory(name="Ping on long posts")
    out = call("run_workflow", "Ping on long posts", "--payload", '{"post_id": 7}')
    execution = AutomationExecution.objects.get()
    assert out == f"Execution {execution.pk} of workflow {workflow.pk} queued.\n"
    assert execution.trigger_payload == {"post_id": 7}
    assert execution.trigger_type == "manual"


@pytest.mark.django_db
def test_run_workflow_accepts_an_id_when_no_workflow_has_that_name():
    workflow = WorkflowFactory()
    call("run_workflow", str(workflow.pk))
    assert AutomationExecution.objects.get().workflow_id == workflow.pk


@pytest.mark.django_db
def test_run_workflow_with_an_idempotency_key_runs_once():
    WorkflowFactory(name="once")
    call("run_workflow", "once", "--idempotency-key", "k1")
    out = call("run_workflow", "once", "--idempotency-key", "k1")
    assert "already started with this key" in out
    assert AutomationExecution.objects.count() == 1


@pytest.mark.django_db
def test_run_workflow_of_an_unknown_workflow_exits_2_with_a_clear_message(cli):
    code, out, err = cli("run_workflow", "No such thing")
    assert code == 2
    assert "No workflow named 'No such thing'." in err
    assert out == ""


@pytest.mark.django_db
def test_run_workflow_of_an_ambiguous_name_exits_2_naming_the_ids(cli):
    first, second = WorkflowFactory(name="twin"), WorkflowFactory(name="twin")
    code, _, err = cli("run_workflow", "twin")
    assert code == 2
    assert f"2 workflows are named 'twin' (ids {first.pk}, {second.pk})" in err


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "message"),
    [("{not json", "--payload is not valid JSON"), ("[1, 2]", "--payload must be a JSON object")],
)
def test_run_workflow_with_a_bad_payload_exits_2_and_starts_nothing(payload, message, cli):
    WorkflowFactory(name="w")
    code, _, err = cli("run_workflow", "w", "--payload", payload)
    assert code == 2
    assert message in err
    assert not AutomationExecution.objects.exists()


@pytest.mark.django_db
def test_run_workflow_with_a_non_positive_wait_exits_2(cli):
    WorkflowFactory(name="w")
    code, _, err = cli("run_workflow", "w", "--wait", "0")
    assert (code, "--wait must be a positive number" in err) == (2, True)


@pytest.mark.django_db
def test_run_workflow_waiting_with_no_worker_exits_3_saying_it_is_still_queued(cli):
    WorkflowFactory(name="w")
    code, _, err = cli("run_workflow", "w", "--wait", "0.3")
    execution = AutomationExecution.objects.get()
    assert code == 3
    assert f"Execution {execution.pk} is still queued after 0.3 s (is a worker running?)" in err


@pytest.mark.worker
def test_run_workflow_waits_for_a_worker_and_prints_the_final_status(start_worker, cli):
    start_worker()
    WorkflowFactory(name="quick")
    code, out, _ = cli("run_workflow", "quick", "--wait", "30")
    execution = AutomationExecution.objects.get()
    assert code == 0
    assert out.splitlines()[-1] == (
        f"Execution {execution.pk} completed in {execution.execution_time_ms} ms."
    )


@pytest.mark.worker
def test_run_workflow_exits_1_with_the_error_when_the_execution_fails(start_worker, cli):
    start_worker()
    WorkflowFactory(name="doomed", actions=[
        {"id": "bad", "type": "transform", "params": {"values": {"x": "{{ 1 / 0 }}"}}},
    ])  # fmt: skip
    code, _, err = cli("run_workflow", "doomed", "--wait", "30")
    execution = AutomationExecution.objects.get()
    assert code == 1
    assert f"Execution {execution.pk} failed: Step 'bad' failed" in err


# --- executions -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_executions_lists_the_latest_oldest_first():
    workflow = WorkflowFactory(name="Nightly import")
    _, second, third = ExecutionFactory.create_batch(3, workflow=workflow)
    lines = call("executions", "--limit", "2").splitlines()
    assert lines[0].split()[:3] == ["ID", "WORKFLOW", "STATUS"]
    assert [int(line.split()[0]) for line in lines[1:]] == [second.pk, third.pk]
    assert "Nightly import" in lines[1]


@pytest.mark.django_db
def test_executions_filters_by_status_and_workflow():
    mine, other = WorkflowFactory(name="mine"), WorkflowFactory(name="other")
    wanted = ExecutionFactory(workflow=mine, status="failed", error_message="boom")
    ExecutionFactory(workflow=mine, status="completed")
    ExecutionFactory(workflow=other, status="failed")
    lines = call("executions", "--status", "failed", "--workflow", "mine").splitlines()[1:]
    assert [int(line.split()[0]) for line in lines] == [wanted.pk]
    assert lines[0].endswith("boom")


@pytest.mark.django_db
def test_executions_of_an_unknown_workflow_exits_2(cli):
    code, _, err = cli("executions", "--workflow", "ghost")
    assert code == 2
    assert "No workflow named 'ghost'." in err


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--status", "exploded"], "invalid choice: 'exploded'"),
        (["--limit", "0"], "--limit must be at least 1"),
        (["--limit", "many"], "invalid int value"),
    ],
)
def test_executions_with_bad_arguments_exits_2(argv, message, cli):
    code, _, err = cli("executions", *argv)
    assert code == 2
    assert message in err


@pytest.mark.django_db
def test_executions_follow_prints_new_and_changed_executions(monkeypatch):
    workflow = WorkflowFactory(name="tail")
    running = ExecutionFactory(workflow=workflow, status="running")
    ExecutionFactory(workflow=workflow, status="completed")
    looks = iter(range(10))

    def change_between_looks(seconds: float) -> None:
        look = next(looks)
        if look == 0:
            AutomationExecution.objects.filter(pk=running.pk).update(status="completed")
            ExecutionFactory(workflow=workflow, status="queued")

    monkeypatch.setattr("workflows.management.commands.executions.time.sleep", change_between_looks)
    lines = call("executions", "--follow", "--max-polls", "2").splitlines()
    newest = AutomationExecution.objects.order_by("-pk").first()
    assert len(lines) == 1 + 2 + 2  # header, the two listed, then two changes
    assert lines[3].split()[:3] == [str(running.pk), "tail", "completed"]
    assert lines[4].split()[:3] == [str(newest.pk), "tail", "queued"]


@pytest.mark.django_db
def test_executions_follow_stops_quietly_on_ctrl_c(monkeypatch):
    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("workflows.management.commands.executions.time.sleep", interrupt)
    assert call("executions", "--follow").splitlines()[0].startswith("      ID")


# --- sweep ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_sweep_resends_a_stuck_execution_and_prints_the_count(settings):
    stuck = ExecutionFactory(status="queued", dispatched_at=timezone.now() - timedelta(hours=1))
    # What Beat's sweeps saw: the message had left the broker, more than the grace ago.
    BrokerWatermark.objects.create(
        observed_at=timezone.now() - timedelta(seconds=settings.EXECUTION_REQUEUE_AFTER_S + 1),
        watermark=timezone.now() - timedelta(minutes=1),
    )
    assert call("sweep") == "Re-sent 1 execution.\n"
    stuck.refresh_from_db()
    assert stuck.dispatched_at > timezone.now() - timedelta(minutes=1)


@pytest.mark.django_db
def test_sweep_with_nothing_stuck_says_so():
    assert call("sweep") == "Re-sent 0 executions.\n"


# --- prune_executions -----------------------------------------------------------------------------


def _aged(days: int, **fields) -> AutomationExecution:
    execution = ExecutionFactory(**fields)
    ExecutionStepFactory(execution=execution)
    AutomationExecution.objects.filter(pk=execution.pk).update(
        created_at=timezone.now() - timedelta(days=days)
    )
    return execution


@pytest.mark.django_db
def test_prune_executions_deletes_finished_executions_older_than_the_given_days():
    old, recent = _aged(10), _aged(3)
    unfinished = _aged(10, status="running")
    assert call("prune_executions", "--days", "7") == "Deleted 1 executions older than 7 days.\n"
    remaining = set(AutomationExecution.objects.values_list("pk", flat=True))
    assert remaining == {recent.pk, unfinished.pk}
    assert not AutomationExecutionStep.objects.filter(execution_id=old.pk).exists()


@pytest.mark.django_db
def test_prune_executions_defaults_to_the_retention_setting(settings):
    settings.EXECUTION_RETENTION_DAYS = 30
    _aged(31), _aged(29)
    assert call("prune_executions") == "Deleted 1 executions older than 30 days.\n"


@pytest.mark.django_db
def test_prune_executions_dry_run_only_counts():
    _aged(10)
    assert call("prune_executions", "--days", "7", "--dry-run") == (
        "Would delete 1 executions older than 7 days.\n"
    )
    assert AutomationExecution.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("days", "message"), [("0", "--days must be at least 1"),
                                               ("week", "invalid int value")])  # fmt: skip
def test_prune_executions_with_bad_days_exits_2_and_deletes_nothing(days, message, cli):
    _aged(10)
    code, _, err = cli("prune_executions", "--days", days)
    assert (code, message in err) == (2, True)
    assert AutomationExecution.objects.count() == 1


# --- create_staff_user ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_staff_user_takes_the_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("OPS_PASSWORD", "a long and unusual passphrase")
    out = call("create_staff_user", "ops", "--password-from-env", "OPS_PASSWORD")
    user = get_user_model().objects.get(username="ops")
    assert out == "Created staff user ops.\n"
    assert user.is_staff and not user.is_superuser
    assert user.check_password("a long and unusual passphrase")


@pytest.mark.django_db
def test_create_staff_user_without_a_password_makes_a_token_only_user():
    call("create_staff_user", "robot")
    assert not get_user_model().objects.get(username="robot").has_usable_password()


@pytest.mark.django_db
def test_create_staff_user_with_a_token_prints_the_token_last():
    lines = call("create_staff_user", "root", "--superuser", "--with-token").splitlines()
    user = get_user_model().objects.get(username="root")
    assert lines[0] == "Created superuser root."
    assert user.is_superuser and user.is_staff
    assert user.api_tokens.get().key_digest == token_digest(lines[-1])


@pytest.mark.django_db
def test_create_staff_user_for_an_existing_name_exits_2(cli):
    get_user_model().objects.create_user("taken")
    code, _, err = cli("create_staff_user", "taken")
    assert code == 2
    assert "A user named 'taken' already exists." in err


@pytest.mark.django_db
def test_create_staff_user_with_an_unset_password_variable_exits_2_and_creates_nothing(cli):
    code, _, err = cli("create_staff_user", "ops", "--password-from-env", "NOT_SET_ANYWHERE")
    assert code == 2
    assert "--password-from-env NOT_SET_ANYWHERE: the variable is not set or empty." in err
    assert not get_user_model().objects.filter(username="ops").exists()


@pytest.mark.django_db
def test_create_staff_user_with_a_weak_password_exits_2_with_the_validators_reasons(
    monkeypatch, cli
):
    monkeypatch.setenv("OPS_PASSWORD", "password")
    code, _, err = cli("create_staff_user", "ops", "--password-from-env", "OPS_PASSWORD")
    assert code == 2
    assert "This password is too common." in err
    assert not get_user_model().objects.filter(username="ops").exists()
