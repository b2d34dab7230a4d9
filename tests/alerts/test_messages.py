"""What alerts say, for each event and for folded repeats."""

from alerts.messages import message_compose

WORKFLOW = {"id": 3, "name": "Nightly Import"}


def compose(count=1, window_s=0, **payload):
    return message_compose(payload=payload, count=count, window_s=window_s)


def test_a_failure_names_workflow_execution_step_error_and_link():
    message = compose(
        event="execution.failed", severity="critical", workflow=WORKFLOW, execution_id=12,
        step_id="fetch", error="HTTP 500 from GET https://x", url="https://site/dashboard/executions/12/",
    )  # fmt: skip
    assert message.title == "Failed: workflow 'Nightly Import'"
    assert message.text.startswith(
        "Execution #12 of workflow 'Nightly Import' failed at step 'fetch': HTTP 500 from GET"
    )
    assert message.severity == "critical"
    assert message.url == "https://site/dashboard/executions/12/"
    assert message.data["count"] == 1


def test_folded_repeats_say_how_many_in_which_window():
    message = compose(
        count=10, window_s=60, event="execution.failed", severity="critical", workflow=WORKFLOW,
        execution_id=21, error="boom",
    )  # fmt: skip
    assert message.title == "10 failures of workflow 'Nightly Import' in the last 60 s"
    assert message.text.startswith("Latest: Execution #21")


def test_a_slow_run_gives_its_time_and_the_threshold():
    message = compose(
        event="execution.slow", severity="warning", workflow=WORKFLOW, execution_id=5,
        execution_time_ms=12_300, threshold_ms=5000,
    )  # fmt: skip
    assert message.title == "Slow run of workflow 'Nightly Import'"
    assert "took 12.3 s (threshold 5.0 s)" in message.text


def test_a_completion_and_a_connection_failure_read_naturally():
    done = compose(
        event="execution.completed", severity="info", workflow=WORKFLOW, execution_id=8,
        execution_time_ms=420,
    )  # fmt: skip
    assert done.text.startswith("Execution #8 of workflow 'Nightly Import' completed in 420 ms.")
    failed = compose(
        event="connection.failed", severity="critical", error="Telegram error 401: Unauthorized",
        connection={"id": 2, "name": "Team bot", "platform": "telegram"},
    )  # fmt: skip
    assert failed.title == "Verification failed: connection 'Team bot' (telegram)"
    assert "Connection 'Team bot' (telegram) failed verification: Telegram error 401" in failed.text
