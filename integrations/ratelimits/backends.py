"""Where the slots of a rate limit are counted: Redis or the database, one sliding window each.

``acquire`` takes a slot now and returns 0, or takes nothing and returns how many seconds until
one may come free; ``block`` keeps every caller from taking a slot for a while (a platform's
429 with Retry-After). Both are atomic across processes, so the limit holds for all workers.
"""

from __future__ import annotations

import time
import uuid
from functools import cache
from typing import Protocol

import redis
from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction

from integrations.ratelimits.models import ConnectionRateWindow
from integrations.ratelimits.rates import Rate

# A request is counted from when its slot is granted; the server counts it when it arrives, a few
# milliseconds later and not always equally late (more on a loaded machine). The window is kept
# this much longer, so that jitter cannot put one more request into the server's window than
# the limit allows.
JITTER_MARGIN_S = 0.25


class Limiter(Protocol):
    def acquire(self, key: str, rate: Rate) -> float: ...

    def block(self, key: str, seconds: float) -> None: ...


class DatabaseLimiter:
    """A row per connection (ConnectionRateWindow) holding the times of its recent requests,
    locked (SELECT … FOR UPDATE; on SQLite the write transaction) while a slot is taken."""

    def acquire(self, key: str, rate: Rate) -> float:
        window_s = rate.period_s + JITTER_MARGIN_S
        with transaction.atomic():
            row = self._locked(int(key))
            now = time.time()
            if row.blocked_until > now:
                return row.blocked_until - now
            grants = [at for at in row.grants if at > now - window_s][-rate.count :]
            if len(grants) >= rate.count:
                return max(grants[0] + window_s - now, 0.001)
            grants.append(now)
            ConnectionRateWindow.objects.filter(pk=row.pk).update(grants=grants)
        return 0.0

    def block(self, key: str, seconds: float) -> None:
        until = time.time() + seconds
        with transaction.atomic():
            row = self._locked(int(key))
            if row.blocked_until < until:
                ConnectionRateWindow.objects.filter(pk=row.pk).update(blocked_until=until)

    def _locked(self, connection_id: int) -> ConnectionRateWindow:
        rows = ConnectionRateWindow.objects.select_for_update()
        row = rows.filter(pk=connection_id).first()
        if row is None:
            # The first limited request of this connection; a concurrent first one may win the
            # insert, and then its row is the one to lock.
            ConnectionRateWindow.objects.get_or_create(connection_id=connection_id)
            row = rows.get(pk=connection_id)
        return row


# KEYS: the window (a sorted set of grant times in ms), the block key. ARGV: count, window ms,
# a unique member. Redis's own clock decides, so workers on machines whose clocks differ agree.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then return blocked - now end
local count, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local taken = redis.call('ZCARD', KEYS[1])
if taken < count then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], taken - count, taken - count, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""
# KEYS: the block key. ARGV: milliseconds. Extends a block, never shortens one.
_BLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < deadline then redis.call('SET', KEYS[1], deadline, 'PX', tonumber(ARGV[1]) + 1000) end
return 0
"""


class RedisLimiter:
    """A sorted set per connection holding its recent grants, read and written by one script."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.acquire_script = self.client.register_script(_ACQUIRE)
        self.block_script = self.client.register_script(_BLOCK)
        # One Redis may count for several installations (or test databases): keys name theirs.
        self.prefix = f"wfo:ratelimit:{db_connection.settings_dict['NAME']}:"

    def acquire(self, key: str, rate: Rate) -> float:
        window_ms = int((rate.period_s + JITTER_MARGIN_S) * 1000)
        keys = [f"{self.prefix}{key}", f"{self.prefix}{key}:blocked"]
        wait_ms = self.acquire_script(keys=keys, args=[rate.count, window_ms, uuid.uuid4().hex])
        return int(wait_ms) / 1000

    def block(self, key: str, seconds: float) -> None:
        self.block_script(keys=[f"{self.prefix}{key}:blocked"], args=[max(1, int(seconds * 1000))])


@cache
def _redis_limiter(url: str) -> RedisLimiter:
    return RedisLimiter(url)


def limiter_get() -> Limiter:
    """Redis when RATE_LIMIT_REDIS_URL is set, else the database."""
    url = settings.RATE_LIMIT_REDIS_URL
    return _redis_limiter(url) if url else DatabaseLimiter()
