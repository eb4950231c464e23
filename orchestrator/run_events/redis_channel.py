"""Redis Streams as the event channel, for app instances on several machines.

Each run has three keys: the stream (entry ids ``<n>-0``, so the entry id is the event id),
its counter and the hash of idempotency keys already used. One Lua script appends a batch
atomically: keys seen before are skipped, the rest get the next numbers. The stream is capped
at about ``max_events`` entries and all three keys expire ``max_age_seconds`` after the last
append. Events this process appends are handed to its watchers at once (``Fanout.deliver``);
a run's feed blocks on ``XREAD`` for the events other instances append.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import redis.asyncio as redis
from redis.exceptions import RedisError

from .channel import ChannelUnavailable, EventChannel, Keyed, StoredEvent

__all__ = ["RedisChannel"]

_APPEND = """
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local given = {}
for i = 3, #ARGV, 2 do
  local key = ARGV[i]
  local fresh = 1
  if key ~= '' then fresh = redis.call('HSETNX', KEYS[3], key, 1) end
  if fresh == 1 then
    last = last + 1
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], last .. '-0', 'd', ARGV[i + 1])
    given[#given + 1] = last
  end
end
if #given > 0 then
  redis.call('SET', KEYS[2], last, 'EX', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('EXPIRE', KEYS[3], ARGV[2]) end
end
return given
"""


@contextmanager
def _reachable() -> Iterator[None]:
    """Redis failures as ChannelUnavailable, which publishers log and watchers report."""
    try:
        yield
    except (RedisError, OSError) as exc:
        raise ChannelUnavailable(f"Redis cannot be reached: {type(exc).__name__}: {exc}") from exc


def _keys(run_id: str) -> list[str]:
    base = f"toolmesh:run-events:{{{run_id}}}"
    return [base, f"{base}:seq", f"{base}:keys"]


def _entry_id(raw: Any) -> int:
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    return int(text.split("-", 1)[0])


def _stored(entries: list[Any]) -> list[StoredEvent]:
    found: list[StoredEvent] = []
    for entry_id, fields in entries:
        data = fields.get(b"d") if isinstance(fields, dict) else None
        if data is not None:
            found.append(StoredEvent(id=_entry_id(entry_id), data=data.decode()))
    return found


MAX_COMMANDS = 100
"""Connections for appends and plain reads; more at once wait for one."""
MAX_BLOCKING_READS = 5000
"""Connections for blocking reads: one per run followed by this process (a feed's reader holds
one while it waits). Kept apart from the connections that append, so that many followed runs
never leave publishers without one (redis-py allows 100 per pool unless told otherwise)."""


class RedisChannel(EventChannel):
    def __init__(self, url: str, *, max_events: int, max_age_seconds: int) -> None:
        # Commands wait for a free connection rather than fail when many runs publish at once.
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=MAX_COMMANDS, timeout=10, socket_connect_timeout=2.0, health_check_interval=30
        )
        self._client = redis.Redis(connection_pool=pool)
        self._blocking = redis.Redis.from_url(
            url, socket_connect_timeout=2.0, health_check_interval=30, max_connections=MAX_BLOCKING_READS
        )
        self._append = self._client.register_script(_APPEND)
        self._max_events = max_events
        self._max_age = max_age_seconds

    async def append(self, run_id: str, events: list[Keyed]) -> list[int]:
        encoded = [orjson.dumps(event) for _, event in events]
        argv: list[Any] = [self._max_events, self._max_age]
        for (key, _), data in zip(events, encoded, strict=True):
            argv += [key or "", data]
        with _reachable():
            given = await self._append(keys=_keys(run_id), args=argv)
        ids = [int(n) for n in given]
        if self._fanout is not None and ids and len(ids) == len(events):
            # Every event got an id (none was a repeated key), in order: this process's watchers
            # take them now instead of when the feed's blocking read brings them back.
            added = [StoredEvent(id=n, data=data.decode()) for n, data in zip(ids, encoded, strict=True)]
            self._fanout.deliver(run_id, added)
        return ids

    async def read(self, run_id: str, after: int, limit: int = 500) -> list[StoredEvent]:
        with _reachable():
            entries: Any = await self._client.xrange(_keys(run_id)[0], min=f"{after + 1}-0", count=limit)
        return _stored(entries)

    async def wait(self, run_id: str, after: int, timeout: float, limit: int = 500) -> list[StoredEvent]:
        stream = _keys(run_id)[0]
        with _reachable():
            block = max(1, int(timeout * 1000))
            answer: Any = await self._blocking.xread({stream: f"{after}-0"}, count=limit, block=block)
        for _, entries in answer or []:
            return _stored(entries)
        return []

    async def first_id(self, run_id: str) -> int | None:
        with _reachable():
            entries: Any = await self._client.xrange(_keys(run_id)[0], count=1)
        return _entry_id(entries[0][0]) if entries else None

    async def has_key(self, run_id: str, key: str) -> bool:
        with _reachable():
            return bool(await self._client.hexists(_keys(run_id)[2], key))

    async def delete(self, run_id: str) -> None:
        with _reachable():
            await self._client.delete(*_keys(run_id))

    async def close(self) -> None:
        if self._fanout is not None:
            self._fanout.close()
        await self._client.aclose()
        await self._blocking.aclose()
