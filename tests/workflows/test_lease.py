"""The lease of a running attempt: renewed by the process's one heartbeat thread while the run
lasts, never after it, and given up (with a warning) once another attempt took over."""

import logging
import threading
import time

import pytest

from tests.factories import WorkflowFactory
from workflows.engine import execution_claim
from workflows.lease import LeaseKeeper
from workflows.models import AutomationExecution
from workflows.services.executions import execution_create

pytestmark = pytest.mark.django_db(transaction=True)  # the heartbeat has its own connection


@pytest.fixture
def short_lease(settings):
    settings.EXECUTION_LEASE_S = 0.3  # renewed every 0.1 s


def running() -> AutomationExecution:
    execution, _ = execution_create(workflow=WorkflowFactory(), trigger_type="manual")
    claimed = execution_claim(execution_id=execution.pk, worker="test")
    assert claimed is not None
    return claimed


def lease_of(execution: AutomationExecution):
    return AutomationExecution.objects.values_list("lease_expires_at", flat=True).get(
        pk=execution.pk
    )


def test_a_lease_is_renewed_while_the_run_lasts_and_not_after(short_lease):
    execution = running()
    first = lease_of(execution)
    with LeaseKeeper(execution.pk, execution.attempt):
        time.sleep(0.5)
        renewed = lease_of(execution)
        assert renewed > first
        time.sleep(0.5)
        assert lease_of(execution) > renewed
    ended = lease_of(execution)  # a renewal under way when the block ended has landed
    time.sleep(0.5)
    assert lease_of(execution) == ended


def test_one_thread_renews_every_lease_of_the_process(short_lease):
    executions = [running() for _ in range(5)]
    keepers = [LeaseKeeper(execution.pk, execution.attempt) for execution in executions]
    for keeper in keepers:
        keeper.__enter__()
    try:
        before = [lease_of(execution) for execution in executions]
        time.sleep(0.5)
        after = [lease_of(execution) for execution in executions]
        assert all(later > earlier for earlier, later in zip(before, after, strict=True))
        names = [thread.name for thread in threading.enumerate()]
        assert names.count("lease-heartbeat") == 1
    finally:
        for keeper in keepers:
            keeper.__exit__(None, None, None)


def test_a_lease_taken_over_by_another_attempt_stops_and_says_so(short_lease, caplog):
    execution = running()
    with (
        caplog.at_level(logging.WARNING, logger="workflows.lease"),
        LeaseKeeper(execution.pk, execution.attempt),
    ):
        AutomationExecution.objects.filter(pk=execution.pk).update(attempt=execution.attempt + 1)
        taken = lease_of(execution)
        time.sleep(0.5)
        assert lease_of(execution) == taken
    assert "lost its lease to attempt" in caplog.text


def test_a_renewal_under_way_when_the_run_ends_lands_before_the_release_returns(short_lease):
    started = threading.Event()

    class SlowRenewal(LeaseKeeper):
        def renew(self) -> bool:
            started.set()
            time.sleep(0.3)  # a slow UPDATE
            return super().renew()

    execution = running()
    keeper = SlowRenewal(execution.pk, execution.attempt)
    with keeper:
        assert started.wait(2)
    ended = lease_of(execution)
    time.sleep(0.5)
    assert lease_of(execution) == ended
