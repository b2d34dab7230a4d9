"""Bulk retry and cancel: each execution through its own service, the ones in another state (or
gone) skipped, never an error for the rest."""

import pytest

from tests.factories import ExecutionFactory
from workflows.services.bulk import BULK_LIMIT, executions_cancel, executions_retry


@pytest.mark.django_db
def test_retry_resumes_the_failed_and_skips_the_rest_once_each():
    failed = ExecutionFactory(status="failed")
    running = ExecutionFactory(status="running")
    outcome = executions_retry(execution_ids=[failed.pk, running.pk, failed.pk, 10**9])
    assert outcome.done == [failed.pk]
    assert outcome.skipped == [running.pk, 10**9]


@pytest.mark.django_db
def test_cancel_stops_the_queued_asks_the_running_and_skips_the_finished():
    queued = ExecutionFactory(status="queued")
    running = ExecutionFactory(status="running")
    done = ExecutionFactory(status="completed")
    outcome = executions_cancel(execution_ids=[queued.pk, running.pk, done.pk])
    assert (outcome.done, outcome.stopping, outcome.skipped) == (
        [queued.pk],
        [running.pk],
        [done.pk],
    )


def test_more_than_the_limit_is_refused_before_anything_is_touched():
    with pytest.raises(ValueError, match=f"At most {BULK_LIMIT}"):
        executions_retry(execution_ids=range(1, BULK_LIMIT + 2))
