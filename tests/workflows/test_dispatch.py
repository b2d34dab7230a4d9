"""One dispatch mechanism for every kind of work: a message per due row, sent after commit, and a
sweep that re-sends only what can no longer be waiting in the broker. These run against the
configured broker (the embedded SQLite one, or Redis in CI): what waits in its lanes is real."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.services.deliveries import delivery_sweep
from orchestration.models import OrchestrationRun
from orchestration.services import orchestration_run_create, orchestration_run_sweep
from tests.factories import AlertDeliveryFactory, OrchestrationFactory, WorkflowFactory
from workflows import dispatch
from workflows.broker import bulk_lane, control_lane, lane_states
from workflows.engine import execution_claim
from workflows.models import AutomationExecution
from workflows.services.executions import execution_create
from workflows.services.housekeeping import execution_sweep

pytestmark = pytest.mark.django_db

LATER = timedelta(hours=1)


@pytest.fixture(autouse=True)
def no_grace(settings):
    """Any message that left the broker may be presumed lost at once: only the broker's own
    content keeps a row from being re-sent."""
    settings.EXECUTION_REQUEUE_AFTER_S = 0


@pytest.fixture
def create(django_capture_on_commit_callbacks):
    """Create an execution and really send its message to the broker."""

    def make(workflow=None, **kwargs) -> AutomationExecution:
        with django_capture_on_commit_callbacks(execute=True):
            execution, _ = execution_create(
                workflow=workflow or WorkflowFactory(), trigger_type="manual", **kwargs
            )
        return execution

    return make


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """Run a sweep (optionally as if later) and send what it re-sends."""

    def run(function=execution_sweep, later: timedelta = timedelta(0)) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return function(now=timezone.now() + later)

    return run


def lanes() -> dict[str, tuple[int | None, float | None]]:
    return {lane.name: (lane.length, lane.oldest_sent_at) for lane in lane_states()}


def purge_lanes() -> None:
    """What a worker killed with messages in hand leaves behind: the messages are gone."""
    from celery import current_app

    with current_app.connection_for_write() as conn:
        for lane in (control_lane(), bulk_lane()):
            conn.default_channel.queue_purge(lane)


def test_a_message_carries_the_dispatch_time_its_row_records(create):
    execution = create()
    execution.refresh_from_db()
    length, oldest = lanes()[bulk_lane()]
    assert length == 1
    assert oldest == pytest.approx(execution.dispatched_at.timestamp(), abs=0.001)


def test_an_execution_whose_message_waits_behind_a_backlog_is_left_alone(create, sweep):
    create()
    create()
    assert sweep(later=LATER) == 0
    assert lanes()[bulk_lane()][0] == 2


def test_an_execution_whose_message_left_the_broker_is_resent_on_the_control_lane(create, sweep):
    execution = create()
    purge_lanes()
    assert sweep() == 1
    execution.refresh_from_db()
    length, oldest = lanes()[control_lane()]
    assert length == 1
    assert oldest == pytest.approx(execution.dispatched_at.timestamp(), abs=0.001)


def test_a_resent_execution_is_not_resent_again_while_that_message_waits(create, sweep):
    create()
    purge_lanes()
    assert sweep() == 1
    assert sweep(later=LATER) == 0
    assert lanes()[control_lane()][0] == 1


def test_behind_newer_work_only_the_executions_whose_message_is_gone_are_resent(create, sweep):
    lost = create()
    purge_lanes()
    waiting = create()
    assert sweep() == 1
    lost.refresh_from_db()
    waiting.refresh_from_db()
    assert lost.dispatched_at > waiting.dispatched_at


def test_within_the_grace_period_a_taken_message_is_not_presumed_lost(create, sweep, settings):
    settings.EXECUTION_REQUEUE_AFTER_S = 30
    create()
    purge_lanes()
    assert sweep() == 0
    assert sweep(later=timedelta(seconds=31)) == 1


def test_a_message_taken_after_waiting_behind_a_backlog_gets_the_grace_from_when_it_left(
    create, sweep, settings
):
    from celery import current_app

    settings.EXECUTION_REQUEUE_AFTER_S = 2
    taken = create()
    create()
    assert sweep() == 0  # both wait
    with current_app.connection_for_write() as conn:
        # A worker takes one (and dies with it: no acknowledgement will put it back).
        assert conn.default_channel.basic_get(bulk_lane(), no_ack=True) is not None
    # Sent long ago, but taken only since the last look: its claim may be a moment away.
    assert sweep(later=timedelta(seconds=3)) == 0
    # Gone for longer than the grace and still unclaimed: lost.
    assert sweep(later=timedelta(seconds=6)) == 1
    taken.refresh_from_db()
    assert lanes()[control_lane()][0] == 1


def test_an_execution_the_broker_refused_is_sent_by_the_next_sweep_that_reaches_it(
    create, sweep, settings, monkeypatch
):
    from celery import current_app

    settings.EXECUTION_REQUEUE_AFTER_S = 5

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    with monkeypatch.context() as patch:
        patch.setattr(current_app, "send_task", broker_down)
        execution = create()
    execution.refresh_from_db()
    assert execution.dispatched_at is None  # nothing is on its way
    assert lanes()[bulk_lane()][0] == 0
    assert sweep() == 1
    assert lanes()[control_lane()][0] == 1


def test_an_execution_whose_process_died_before_publishing_is_resent_once_its_mark_passed(
    sweep, settings, django_capture_on_commit_callbacks
):
    settings.EXECUTION_REQUEUE_AFTER_S = 5
    with django_capture_on_commit_callbacks(execute=False):  # committed, never published
        execution_create(workflow=WorkflowFactory(), trigger_type="manual")
    assert sweep() == 0  # still "on its way" for all the sweep can tell
    assert sweep(later=timedelta(seconds=6)) == 0
    assert sweep(later=timedelta(seconds=dispatch.PUBLISH_WINDOW_S - 1)) == 0
    assert sweep(later=timedelta(seconds=dispatch.PUBLISH_WINDOW_S + 6)) == 0
    assert sweep(later=timedelta(seconds=dispatch.PUBLISH_WINDOW_S + 12)) == 1
    assert lanes()[control_lane()][0] == 1


def test_a_row_written_long_before_its_transaction_committed_is_not_resent_while_publishing(
    sweep, settings, django_capture_on_commit_callbacks, time_machine
):
    """A burst of a thousand executions in one transaction, on a loaded machine: the first row
    was written many seconds before the commit, and its message leaves after hundreds of
    others. A sweep in between, whose broker was empty a grace ago, must not take that row for
    lost."""
    settings.EXECUTION_REQUEUE_AFTER_S = 2
    start = timezone.now()
    time_machine.move_to(start, tick=True)
    with django_capture_on_commit_callbacks(execute=False) as unpublished:
        execution_create(workflow=WorkflowFactory(), trigger_type="manual")
        time_machine.move_to(start + timedelta(seconds=10), tick=True)  # the transaction runs on
    assert sweep() == 0  # the broker is seen empty
    assert sweep(later=timedelta(seconds=3)) == 0  # ...and again a grace later: the row waits
    for publish in unpublished:
        publish()
    assert lanes()[bulk_lane()][0] == 1
    assert lanes()[control_lane()][0] == 0


def test_when_the_broker_cannot_be_read_nothing_is_resent(create, sweep, monkeypatch):
    create()
    purge_lanes()

    def unreachable():
        raise ConnectionError("broker down")

    monkeypatch.setattr(dispatch, "lane_states", unreachable)
    assert sweep() == 0


def test_a_parked_execution_is_not_resent_while_its_workflow_is_full(create, sweep):
    workflow = WorkflowFactory(max_concurrency=1)
    running = create(workflow)
    parked = create(workflow)
    purge_lanes()
    assert execution_claim(execution_id=running.pk, worker="w1") is not None
    assert execution_claim(execution_id=parked.pk, worker="w2") is None
    assert sweep() == 0
    AutomationExecution.objects.filter(pk=running.pk).update(status="completed")
    # The finish's wake-up message was lost: the sweep sends the parked one, once.
    assert sweep() == 1
    assert sweep(later=LATER) == 0


def test_a_dead_workers_execution_takes_back_its_slot_under_max_concurrency(create, sweep):
    workflow = WorkflowFactory(max_concurrency=1)
    first = create(workflow)
    second = create(workflow)
    assert execution_claim(execution_id=first.pk, worker="dead") is not None
    AutomationExecution.objects.filter(pk=first.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    purge_lanes()
    assert sweep() == 1  # the expired one, not the parked one
    reclaimed = execution_claim(execution_id=first.pk, worker="alive")
    assert reclaimed is not None
    assert reclaimed.locked_by == "alive"
    assert execution_claim(execution_id=second.pk, worker="alive") is None


def test_a_delivery_whose_message_waits_is_left_alone_and_one_that_left_is_resent(
    sweep, django_capture_on_commit_callbacks
):
    from alerts.services.deliveries import DELIVERIES

    now = timezone.now()
    delivery = AlertDeliveryFactory(status="pending", attempts=0, dispatched_at=now)
    with django_capture_on_commit_callbacks(execute=True):
        DELIVERIES.send(delivery.pk, marked=now)
    assert sweep(delivery_sweep, later=LATER) == 0
    purge_lanes()
    assert sweep(delivery_sweep) == 1


def test_a_run_whose_message_waits_is_left_alone_and_one_that_left_is_resent(
    sweep, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run = orchestration_run_create(orchestration=OrchestrationFactory(), input={})
    assert sweep(orchestration_run_sweep, later=timedelta(minutes=5)) == 0
    purge_lanes()
    assert sweep(orchestration_run_sweep) == 1
    assert OrchestrationRun.objects.get(pk=run.pk).status == "queued"
