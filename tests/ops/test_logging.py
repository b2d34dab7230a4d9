"""Structured logs: JSON lines that say which execution, workflow, step and attempt they concern,
with connection secrets redacted."""

import io
import json
import logging
import secrets
import subprocess
import sys
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet

from tests.conftest import ROOT, process_env, wait_for
from tests.factories import ConnectionFactory, WorkflowFactory
from workflows.engine import execution_run
from workflows.logcontext import (
    JsonFormatter,
    LogContextFilter,
    PlainFormatter,
    log_context,
    log_context_current,
    log_context_set,
)
from workflows.models import AutomationExecution, TriggerType
from workflows.services.executions import execution_create

SECRET = "tok-3f9a8c1d7e2b4a6f"
LEAKY = {"ACTION_TYPES_EXTRA": "leaky=tests.ops.actions.LeakyAction"}


def _record(message: str = "hello %s", *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("tests.ops", logging.INFO, __file__, 1, message, args or None, None)
    record.__dict__.update(extra)
    return record


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The console handler settings.LOGGING installs (with its filters), writing JSON lines to a
    buffer for the test."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    buffer, stream, formatter = io.StringIO(), handler.stream, handler.formatter
    # Swapped in place: setStream would flush the old stream, which pytest may have closed.
    handler.stream = buffer
    handler.setFormatter(JsonFormatter())
    yield buffer
    handler.stream = stream
    handler.setFormatter(formatter)


def _parsed(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]


# --- the pieces -----------------------------------------------------------------------------------


def test_a_json_line_has_the_time_level_logger_message_and_the_context():
    record = _record("step %s done", "fetch")
    with log_context(execution_id=12, workflow_id=3, step_id="fetch", attempt=2):
        LogContextFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "step fetch done"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "tests.ops"
    assert entry["time"].endswith("+00:00")
    assert (entry["execution_id"], entry["workflow_id"], entry["step_id"], entry["attempt"]) == (
        12, 3, "fetch", 2,
    )  # fmt: skip


def test_a_json_line_outside_any_execution_has_no_context_fields():
    record = _record()
    LogContextFilter().filter(record)
    assert "execution_id" not in json.loads(JsonFormatter().format(record))


def test_a_json_line_carries_the_exception_as_text():
    try:
        raise ValueError("bad value")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert "ValueError: bad value" in entry["exception"]


def test_a_plain_line_ends_with_the_context_in_brackets():
    record = _record("hello")
    with log_context(execution_id=5, step_id="ping"):
        LogContextFilter().filter(record)
    line = PlainFormatter("%(levelname)s %(message)s").format(record)
    assert line == "INFO hello [execution_id=5 step_id=ping]"


def test_a_value_given_in_extra_wins_over_the_context():
    record = _record(execution_id=99)
    with log_context(execution_id=5):
        LogContextFilter().filter(record)
    assert record.execution_id == 99  # type: ignore[attr-defined]


def test_leaving_a_block_restores_every_field_including_those_set_inside_it():
    with log_context(execution_id=1):
        with log_context(step_id="a"):
            log_context_set(step_attempt=2)
            assert log_context_current() == {"execution_id": 1, "step_id": "a", "step_attempt": 2}
        assert log_context_current() == {"execution_id": 1}
    assert log_context_current() == {}


def _start(code: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` after django.setup() in a fresh interpreter with these variables."""
    env = {
        name: value for name, value in process_env(**environment).items() if name != "LOG_FORMAT"
    }
    env.update(environment)
    command = [sys.executable, "-c", f"import django; django.setup(); {code}"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_development_logs_plain_text_by_default():
    result = _start("import logging; logging.getLogger('x').warning('hi')")
    assert result.stderr.strip().endswith("WARNING x hi")


def test_log_format_json_writes_json_lines():
    result = _start("import logging; logging.getLogger('x').warning('hi')", LOG_FORMAT="json")
    assert json.loads(result.stderr.strip().splitlines()[-1])["message"] == "hi"


def test_production_logs_json_by_default():
    production = {
        "DJANGO_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "workflows.example.com",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    result = _start("import logging; logging.getLogger('x').warning('hi')", **production)
    assert json.loads(result.stderr.strip().splitlines()[-1])["message"] == "hi"


def test_an_unknown_log_format_stops_the_start_with_a_clear_error():
    result = _start("", LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be json or plain, got 'xml'" in result.stderr


# --- a failing execution --------------------------------------------------------------------------


def _leaky_workflow() -> tuple[int, int]:
    connection = ConnectionFactory(credentials={"token": SECRET})
    workflow = WorkflowFactory(
        actions=[
            {"id": "prepare", "type": "transform", "params": {"values": {"x": 1}}},
            {"id": "call", "type": "leaky", "params": {"connection": connection.pk}},
        ]
    )
    execution, _ = execution_create(workflow=workflow, trigger_type=TriggerType.MANUAL)
    return workflow.pk, execution.pk


@pytest.mark.django_db
def test_every_record_of_a_failing_execution_names_it_and_keeps_the_secret_out(
    settings, json_lines
):
    settings.ACTION_TYPES_EXTRA = {"leaky": "tests.ops.actions.LeakyAction"}
    workflow_id, execution_id = _leaky_workflow()
    execution_run(execution_id=execution_id, worker="test")
    assert AutomationExecution.objects.get(pk=execution_id).status == "failed"
    records = [entry for entry in _parsed(json_lines) if entry.get("execution_id") == execution_id]
    leaked, crashed = (
        next(entry for entry in records if entry["logger"] == name)
        for name in ("tests.ops.leaky", "workflows.engine")
    )
    for entry in (leaked, crashed):
        assert entry["workflow_id"] == workflow_id
        assert entry["step_id"] == "call"
        assert entry["attempt"] == 1
        assert entry["step_attempt"] == 1
    assert leaked["message"] == "calling the platform with token [redacted]"
    assert "RuntimeError: the platform refused token [redacted]" in crashed["exception"]
    assert SECRET not in json_lines.getvalue()


@pytest.mark.worker
def test_a_worker_with_log_format_json_writes_the_failing_executions_records_as_json(
    start_worker,
):
    worker = start_worker(LOG_FORMAT="json", **LEAKY)
    workflow_id, execution_id = _leaky_workflow()
    execution = AutomationExecution.objects.filter(pk=execution_id)
    wait_for(lambda: execution.filter(status="failed").exists())
    lines = worker.log_path.read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    mine = [entry for entry in entries if entry.get("execution_id") == execution_id]
    assert {entry["logger"] for entry in mine} >= {"tests.ops.leaky", "workflows.engine"}
    for entry in mine:
        if "step_id" in entry:
            assert (entry["workflow_id"], entry["step_id"], entry["attempt"]) == (
                workflow_id, "call", 1,
            )  # fmt: skip
    assert SECRET not in worker.log_path.read_text()
