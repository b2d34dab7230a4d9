"""What the system asks of the broker beyond sending: its lanes, how long each is, and how old the
oldest message waiting in each is.

Two lanes (queues), both consumed by every worker: **control** (sweeps, schedule fires, Beat's
heartbeat, recovered work) and **bulk** (everything else). A worker takes from them in turn, so a
control message waits for at most one bulk task, never for the whole backlog.

Every task message we publish carries ``headers.sent_at`` (stamped on publish, see
``stamp_sent_at``), so on Redis and on the embedded SQLite broker the oldest waiting message tells
when it was sent. The sweep uses that to tell "still waiting in a deep queue" from "lost", and
health reports it as the queue's lag.
"""

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from celery import current_app
from django.conf import settings

logger = logging.getLogger(__name__)


def control_lane() -> str:
    return str(settings.CELERY_TASK_CONTROL_QUEUE)


def bulk_lane() -> str:
    return str(settings.CELERY_TASK_DEFAULT_QUEUE)


@dataclass(frozen=True)
class LaneState:
    name: str
    length: int | None  # None: this broker does not say
    oldest_sent_at: float | None  # None: empty, or this broker cannot tell

    @property
    def oldest_age_s(self) -> float | None:
        if self.oldest_sent_at is None:
            return None
        return max(0.0, round(time.time() - self.oldest_sent_at, 1))


def replies_connection() -> Any:
    """A fresh broker connection for collecting broadcast replies (``inspect``, ping): it waits
    the whole timeout it is given for them, on the embedded broker too (see its drain_events)."""
    from workflows.broker.sqlite import WAIT_WHOLE_TIMEOUT

    return current_app.connection_for_write(
        settings.CELERY_BROKER_URL, transport_options={WAIT_WHOLE_TIMEOUT: True}
    )


def stamp_sent_at(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """``before_task_publish`` receiver: every message says when it was first sent. A message
    restored to its queue (a worker shut down holding it) keeps its stamp."""
    if headers is not None and "sent_at" not in headers:
        headers["sent_at"] = time.time()


# Messages put back in a Redis queue (a worker rejected or gave back what it held) go to the end
# that is read next, ahead of older ones: the oldest is looked for among this many there.
REDIS_TAIL_WINDOW = 100


def _oldest_sent_at(channel: Any, queue: str) -> float | None:
    own = getattr(channel, "oldest_sent_at", None)  # the embedded broker answers by itself
    if own is not None:
        sent_at = own(queue)
        return float(sent_at) if sent_at is not None else None
    client = getattr(channel, "client", None)
    if client is None or not hasattr(client, "lrange"):
        return None
    # kombu's Redis transport pushes on the left and pops on the right.
    stamps = [_sent_at(raw) for raw in client.lrange(queue, -REDIS_TAIL_WINDOW, -1)]
    known = [stamp for stamp in stamps if stamp is not None]
    if len(known) < len(stamps):
        return None  # a message of unknown age waits there
    return min(known, default=None)


def _sent_at(raw: bytes) -> float | None:
    try:
        sent_at = json.loads(raw).get("headers", {}).get("sent_at")
    except (ValueError, AttributeError):
        return None
    return float(sent_at) if isinstance(sent_at, int | float) else None


def _length(channel: Any, queue: str) -> int | None:
    size = getattr(channel, "_size", None)  # every kombu virtual transport counts a queue
    if size is not None:
        return int(size(queue))
    try:
        return int(channel.queue_declare(queue=queue, passive=True).message_count)
    except Exception:
        return None


def lane_states(connection: Any = None) -> list[LaneState]:
    """Each lane's length and oldest message. Raises when the broker cannot be reached."""
    lanes = (control_lane(), bulk_lane())
    if connection is None:
        # A connection of its own, not one from the producer pool: a pooled socket can outlive
        # a broker restart and answer a health-check PING with a stale reply.
        with current_app.connection_for_read() as conn:
            return _read(conn.default_channel, lanes)
    return _read(connection.default_channel, lanes)


def _read(channel: Any, lanes: tuple[str, ...]) -> list[LaneState]:
    states = []
    for lane in lanes:
        length = _length(channel, lane)
        oldest = _oldest_sent_at(channel, lane) if length != 0 else None
        states.append(LaneState(lane, length, oldest))
    return states
