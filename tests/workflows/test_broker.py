"""The embedded broker (SQLite): whole messages, each taken once, nothing left behind — under
real concurrency: separate producer and consumer processes on one file."""

import multiprocessing
import sqlite3
import time
from pathlib import Path

import pytest
from kombu import Connection

import config.celery  # noqa: F401  (registers the sqlite:// transport)
from workflows.broker import sqlite as embedded
from workflows.broker.sqlite import FANOUT_TTL_S

PRODUCERS = 4
CONSUMERS = 2
MESSAGES_EACH = 5000
QUEUE = "stress"


def _produce(url: str, producer: int, count: int) -> None:
    with Connection(url) as conn:
        queue = conn.SimpleQueue(QUEUE)
        for number in range(count):
            queue.put({"producer": producer, "number": number})
        queue.close()


def _consume(
    url: str, done: "multiprocessing.synchronize.Event", out: Path, returning: bool
) -> None:
    """Take messages until the producers are done and the queue stays empty; write what was
    taken, one ``producer:number`` per line."""
    embedded.RETURNING = returning
    taken = []
    with Connection(url) as conn:
        queue = conn.SimpleQueue(QUEUE)
        while True:
            try:
                message = queue.get(timeout=0.5)
            except queue.Empty:
                if done.is_set():
                    break
                continue
            taken.append(f"{message.payload['producer']}:{message.payload['number']}")
            message.ack()
        queue.close()
    out.write_text("\n".join(taken))


@pytest.fixture
def broker_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'broker.sqlite3'}"


@pytest.mark.parametrize(
    "returning",
    [
        pytest.param(True, id="DELETE-RETURNING"),
        pytest.param(False, id="explicit-transaction (SQLite before 3.35)"),
    ],
)
def test_four_producers_and_two_consumers_deliver_every_message_exactly_once(
    broker_url, tmp_path, returning
):
    if returning and not embedded.RETURNING:
        pytest.skip("this SQLite library has no DELETE … RETURNING")
    context = multiprocessing.get_context("spawn")
    done = context.Event()
    outputs = [tmp_path / f"consumer-{index}.txt" for index in range(CONSUMERS)]
    consumers = [
        context.Process(target=_consume, args=(broker_url, done, out, returning)) for out in outputs
    ]
    producers = [
        context.Process(target=_produce, args=(broker_url, index, MESSAGES_EACH))
        for index in range(PRODUCERS)
    ]
    for process in [*consumers, *producers]:
        process.start()
    for process in producers:
        process.join(timeout=300)
        assert process.exitcode == 0
    # Only now may an empty queue mean "finished".
    done.set()
    for process in consumers:
        process.join(timeout=300)
        assert process.exitcode == 0, "a consumer crashed"

    taken = [line for out in outputs for line in out.read_text().splitlines()]
    expected = {f"{p}:{n}" for p in range(PRODUCERS) for n in range(MESSAGES_EACH)}
    assert len(taken) == len(expected), "a message was lost or delivered twice"
    assert set(taken) == expected
    assert all(out.read_text() for out in outputs), "both consumers took messages"
    with sqlite3.connect(tmp_path / "broker.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM kombu_message").fetchone() == (0,)


def test_messages_come_out_in_the_order_they_went_in(broker_url):
    with Connection(broker_url) as conn:
        queue = conn.SimpleQueue(QUEUE)
        for number in range(50):
            queue.put({"number": number})
        got = []
        for _ in range(50):
            message = queue.get(timeout=1)
            got.append(message.payload["number"])
            message.ack()
        queue.close()
    assert got == list(range(50))


def test_a_message_taken_but_not_acknowledged_is_restored_when_its_consumer_closes(broker_url):
    with Connection(broker_url) as conn:
        queue = conn.SimpleQueue(QUEUE)
        queue.put({"n": 1})
        message = queue.get(timeout=1)
        assert message.payload == {"n": 1}
        queue.close()  # closing the channel puts unacknowledged messages back
    with Connection(broker_url) as conn:
        queue = conn.SimpleQueue(QUEUE)
        again = queue.get(timeout=1)
        assert again.payload == {"n": 1}
        again.ack()
        queue.close()


def test_a_broadcast_reaches_every_bound_queue_and_expires_when_nobody_takes_it(
    broker_url, tmp_path
):
    from kombu import Exchange, Queue

    exchange = Exchange("events", type="fanout")
    with Connection(broker_url) as conn:
        channel = conn.channel()
        for name in ("a", "b"):
            Queue(name, exchange)(channel).declare()
        producer = conn.Producer(channel)
        producer.publish({"hello": 1}, exchange=exchange, declare=[exchange])
        with sqlite3.connect(tmp_path / "broker.sqlite3") as db:
            rows = db.execute("SELECT queue, expires_at FROM kombu_message").fetchall()
        assert sorted(queue for queue, _ in rows) == ["a", "b"]
        assert all(expires > time.time() + FANOUT_TTL_S - 5 for _, expires in rows)
        with sqlite3.connect(tmp_path / "broker.sqlite3") as db:
            db.execute("UPDATE kombu_message SET expires_at = 1")
        assert channel.basic_get("a") is None  # expired: dropped, not delivered
        channel.close()
    with sqlite3.connect(tmp_path / "broker.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM kombu_message WHERE queue = 'a'").fetchone() == (0,)


def test_a_url_that_names_no_file_is_refused():
    from workflows.broker.sqlite import database_path

    with pytest.raises(ValueError, match="sqlite:///"):
        database_path("sqlite://host/file")
    assert database_path("sqlite:////data/broker.sqlite3") == Path("/data/broker.sqlite3")
