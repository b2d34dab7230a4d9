"""The embedded broker: a kombu transport that keeps its queues in one SQLite file.

``CELERY_BROKER_URL=sqlite:///path/to/broker.sqlite3`` (the default, under ``DATA_DIR``) lets web,
worker and Beat — separate processes — share queues without a broker server. Every operation is
one SQLite transaction, so a message is either wholly there or not there at all:

- publish is one INSERT; a reader can never see a half-written message (kombu's filesystem
  transport could: a reader opened a file before its writer had written it, and the worker died
  on the empty payload);
- take is ``BEGIN IMMEDIATE``, the oldest row of the queue, ``DELETE``, ``COMMIT``: the write lock
  makes two consumers take different messages, so each message is delivered once;
- nothing is left behind: a taken message is deleted, and broadcast (``fanout``) messages that
  nobody took before they expired are removed.

Like every kombu virtual transport, a message taken by a worker that is then killed is gone; the
database rows are the truth and the sweep re-sends such work (workflows/dispatch.py).
Broadcasts (``celery inspect``, the health check's worker ping) work across processes: bindings
are stored in the file too.
"""

import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from queue import Empty
from typing import Any
from urllib.parse import unquote, urlsplit

from kombu.transport import virtual

logger = logging.getLogger(__name__)

# A broadcast nobody took within this long is dropped (its reader is gone; a worker killed with
# -9 never unbinds its control queue).
FANOUT_TTL_S = 60.0
# How often one process deletes expired messages.
CLEANUP_EVERY_S = 30.0
# Transport option: drain_events waits for the whole timeout it is given (see drain_events).
WAIT_WHOLE_TIMEOUT = "wait_whole_timeout"

SCHEMA = """
CREATE TABLE IF NOT EXISTS kombu_message (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    payload TEXT NOT NULL,
    sent_at REAL NOT NULL,
    expires_at REAL
);
CREATE INDEX IF NOT EXISTS kombu_message_queue ON kombu_message (queue, id);
CREATE INDEX IF NOT EXISTS kombu_message_sent ON kombu_message (queue, sent_at);
CREATE INDEX IF NOT EXISTS kombu_message_expires ON kombu_message (expires_at)
    WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS kombu_binding (
    exchange TEXT NOT NULL,
    routing_key TEXT NOT NULL,
    pattern TEXT NOT NULL,
    queue TEXT NOT NULL,
    PRIMARY KEY (exchange, routing_key, pattern, queue)
);
"""


# DELETE … RETURNING takes a message in one statement (SQLite 3.35+); older libraries take it in
# an explicit write transaction.
RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)
_PEEK = "SELECT 1 FROM kombu_message WHERE queue = ? LIMIT 1"
_OLDEST = (
    "SELECT id, payload FROM kombu_message WHERE queue = ?"
    " AND (expires_at IS NULL OR expires_at >= ?) ORDER BY id LIMIT 1"
)
_TAKE = (
    "DELETE FROM kombu_message WHERE id = (SELECT id FROM kombu_message WHERE queue = ?"
    " AND (expires_at IS NULL OR expires_at >= ?) ORDER BY id LIMIT 1) RETURNING id, payload"
)


def database_path(url: str) -> Path:
    """``sqlite:///abs/path`` or ``sqlite:////abs/path`` → the file's (absolute) path."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite" or not parts.path.strip("/") or parts.netloc:
        raise ValueError(f"expected sqlite:///path/to/broker.sqlite3, got {url!r}")
    return Path("/" + unquote(parts.path).lstrip("/"))


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) that waits for locks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    return conn


def sent_at_of(message: dict[str, Any]) -> float | None:
    """The publish time our producers stamp into every task message (``headers.sent_at``)."""
    value = (message.get("headers") or {}).get("sent_at")
    return float(value) if isinstance(value, int | float) else None


class Channel(virtual.Channel):
    supports_fanout = True

    def __init__(self, connection: Any, **kwargs: Any) -> None:
        self._path = database_path(connection.client.hostname)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._cleaned_at = 0.0
        super().__init__(connection, **kwargs)

    @property
    def db(self) -> sqlite3.Connection:
        # A process forked from one that already had a connection opens its own.
        if self._conn is None or self._pid != os.getpid():
            self._conn = connect(self._path)
            self._pid = os.getpid()
        return self._conn

    def _put(self, queue: str, message: dict[str, Any], **kwargs: Any) -> None:
        headers = message.get("headers") or {}
        expires = (
            headers.get("expires") if isinstance(headers.get("expires"), int | float) else None
        )
        self._insert(queue, message, expires_at=expires)

    def _insert(self, queue: str, message: dict[str, Any], *, expires_at: float | None) -> None:
        now = time.time()
        with self._lock:
            self.db.execute(
                "INSERT INTO kombu_message (queue, payload, sent_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (queue, json.dumps(message), sent_at_of(message) or now, expires_at),
            )
            self._cleanup(now)

    def _get(self, queue: str, timeout: float | None = None) -> dict[str, Any]:
        with self._lock:
            row = self._take(self.db, queue, time.time())
        if row is None:
            raise Empty()
        try:
            payload: dict[str, Any] = json.loads(row[1])
        except ValueError:
            # Cannot happen with whole-row writes; if the file was edited by hand, drop the
            # garbage rather than stop the worker.
            logger.error("dropped an unreadable message %s from queue %s", row[0], queue)
            raise Empty() from None
        return payload

    @staticmethod
    def _take(db: sqlite3.Connection, queue: str, now: float) -> tuple[int, str] | None:
        """Delete and return the queue's oldest unexpired message, in one write transaction."""
        # A read first: an empty queue costs no write lock, so idle polling never blocks anyone.
        if db.execute(_PEEK, (queue,)).fetchone() is None:
            return None
        if RETURNING:
            row = db.execute(_TAKE, (queue, now)).fetchone()
        else:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(_OLDEST, (queue, now)).fetchone()
                if row is not None:
                    db.execute("DELETE FROM kombu_message WHERE id = ?", (row[0],))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        if row is None:  # only expired broadcasts were left: drop them
            db.execute("DELETE FROM kombu_message WHERE queue = ? AND expires_at < ?", (queue, now))
        return row

    def _size(self, queue: str) -> int:
        with self._lock:
            (count,) = self.db.execute(
                "SELECT COUNT(*) FROM kombu_message WHERE queue = ?", (queue,)
            ).fetchone()
        return int(count)

    def _purge(self, queue: str) -> int:
        with self._lock:
            cursor = self.db.execute("DELETE FROM kombu_message WHERE queue = ?", (queue,))
        return cursor.rowcount

    def _delete(self, queue: str, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self.db.execute("DELETE FROM kombu_message WHERE queue = ?", (queue,))
            self.db.execute("DELETE FROM kombu_binding WHERE queue = ?", (queue,))

    def oldest_sent_at(self, queue: str) -> float | None:
        """When the oldest message still waiting in ``queue`` was first sent (a message put
        back keeps its time); None when it is empty."""
        with self._lock:
            (sent_at,) = self.db.execute(
                "SELECT MIN(sent_at) FROM kombu_message WHERE queue = ?", (queue,)
            ).fetchone()
        return float(sent_at) if sent_at is not None else None

    # --- exchanges: bindings live in the file, so every process routes alike ---------------------

    def get_table(self, exchange: str) -> list[tuple[str, str, str]]:
        with self._lock:
            rows = self.db.execute(
                "SELECT routing_key, pattern, queue FROM kombu_binding WHERE exchange = ?",
                (exchange,),
            ).fetchall()
        return [(routing_key, pattern, queue) for routing_key, pattern, queue in rows]

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        with self._lock:
            self.db.execute(
                "INSERT OR IGNORE INTO kombu_binding (exchange, routing_key, pattern, queue)"
                " VALUES (?, ?, ?, ?)",
                (exchange, routing_key or "", pattern or "", queue or ""),
            )

    def _put_fanout(
        self, exchange: str, message: dict[str, Any], routing_key: str, **kw: Any
    ) -> None:
        expires_at = time.time() + FANOUT_TTL_S
        for _, _, queue in self.get_table(exchange):
            self._insert(queue, message, expires_at=expires_at)

    def _cleanup(self, now: float) -> None:
        """Delete expired messages, at most every CLEANUP_EVERY_S per channel. Holds _lock."""
        if now - self._cleaned_at < CLEANUP_EVERY_S:
            return
        self._cleaned_at = now
        self.db.execute("DELETE FROM kombu_message WHERE expires_at < ?", (now,))

    def close(self) -> None:
        super().close()
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


class Transport(virtual.Transport):
    Channel = Channel
    # Idle workers look for new messages this often (kombu's default is once a second).
    polling_interval = 0.05
    # The URL names a file: kombu must hand it over whole rather than split it into host parts.
    can_parse_url = True
    default_port = 0
    driver_type = "sqlite"
    driver_name = "sqlite3"
    connection_errors = (*virtual.Transport.connection_errors, sqlite3.OperationalError)
    channel_errors = (*virtual.Transport.channel_errors, sqlite3.DatabaseError)
    implements = virtual.Transport.implements.extend(
        asynchronous=False, exchange_type=frozenset(["direct", "topic", "fanout"])
    )

    def drain_events(self, connection: Any, timeout: float | None = None) -> Any:
        """With a timeout, wait at most one polling interval, message or not — unless the
        connection was opened with the transport option ``wait_whole_timeout``.

        Celery's worker loop for polling transports acknowledges finished tasks only between
        calls, and calls with a 2 s timeout: with a full prefetch window every call would wait
        those 2 s before the ack that frees the window, and a worker would take about one task
        per second however short its tasks. A client collecting broadcast replies (the health
        check's worker ping) stops at the first timeout, so it must wait the whole of it: cut
        short, a worker busy for a tenth of a second would be reported missing.
        """
        if timeout is not None and not self.client.transport_options.get(WAIT_WHOLE_TIMEOUT):
            timeout = min(timeout, self.polling_interval)
        return super().drain_events(connection, timeout=timeout)

    def driver_version(self) -> str:
        return sqlite3.sqlite_version
