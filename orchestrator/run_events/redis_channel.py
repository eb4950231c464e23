"""Redis Streams as the event channel, for app instances on several machines.

Each run has three keys: the stream (entry ids ``<n>-0``, so the entry id is the event id),
its counter and the hash of idempotency keys already used. One Lua script appends a batch
atomically: keys seen before are skipped, the rest get the next numbers. The stream is capped
at about ``max_events`` entries and all three keys expire ``max_age_seconds`` after the last
append. Events this process appends are handed to its watchers at once (``Fanout.deliver``);
the events other instances append come through one blocking ``XREAD`` over every run this process
follows (``SharedReader``), so a process holds one waiting connection, not one per followed run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import orjson
import redis.asyncio as redis
from redis.exceptions import ClusterCrossSlotError, RedisError

from .channel import ChannelUnavailable, EventChannel, Keyed, StoredEvent

if TYPE_CHECKING:
    from .fanout import RunFeed

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
        raise _unavailable(exc) from exc


def _unavailable(exc: BaseException) -> ChannelUnavailable:
    return ChannelUnavailable(f"Redis cannot be reached: {type(exc).__name__}: {exc}")


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
"""Connections for blocking reads: the shared reader's one, plus one per run followed where Redis
cannot read several runs at once (a cluster) and per ``wait`` call. Kept apart from the
connections that append, so that waiting readers never leave publishers without one."""
READ_BLOCK_MS = 5000
"""How long the shared reader's ``XREAD`` waits before it looks at the followed runs again anyway."""
READ_COUNT = 500
"""Events the shared reader takes per run and read."""
WAKE_SECONDS = 3600
"""How long a process's wake stream outlives its last use (it is deleted when the channel closes)."""


class SharedReader:
    """One blocking ``XREAD`` for every run this process follows.

    Each followed run's feed is read from its last id; whatever comes is added to the feed at once.
    The read also waits on a stream of this process's own (``wake``): a run that starts being
    followed while the read waits adds an entry there, so the read comes back and the next one
    includes the run. A cluster refuses keys of different hash slots in one command; then the
    reader gives up for good and each feed waits on its own run (``cross_slot``).
    """

    def __init__(self, channel: RedisChannel) -> None:
        self._channel = channel
        self._feeds: dict[str, RunFeed] = {}
        self._failures: dict[str, asyncio.Future[None]] = {}
        self._reading: set[str] = set()
        self._woken = False
        self._task: asyncio.Task[None] | None = None
        self.wake_key = f"toolmesh:run-events:wake:{uuid.uuid4().hex}"
        self._wake_last = "0-0"
        self.cross_slot = False

    async def follow(self, run_id: str, feed: RunFeed, timeout: float) -> None:
        """Keep ``feed`` in the shared read for ``timeout`` seconds (its events go straight to it).

        ChannelUnavailable when Redis fails meanwhile; returns early when the reader gives up
        (``cross_slot``).
        """
        loop = asyncio.get_running_loop()
        failure = self._failures.get(run_id)
        if failure is None or failure.done():
            failure = self._failures[run_id] = loop.create_future()
        self._feeds[run_id] = feed
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._read())
        elif run_id not in self._reading and not self._woken:
            self._woken = True  # once per read: the next one takes every run that joined meanwhile
            with _reachable():
                await self._channel.wake(self.wake_key)
        try:
            await asyncio.wait_for(asyncio.shield(failure), timeout)
        except TimeoutError:
            return

    def _fail(self, error: BaseException | None) -> None:
        failures, self._failures = self._failures, {}
        for failure in failures.values():
            if not failure.done():
                if error is None:
                    failure.set_result(None)
                else:
                    failure.set_exception(error)
                    failure.exception()  # a feed may have left already; nobody else need see it

    async def _read(self) -> None:
        while not self.cross_slot:
            live = {run: feed for run, feed in self._feeds.items() if feed.watchers > 0 and feed.error is None}
            self._feeds = live
            self._failures = {run: failure for run, failure in self._failures.items() if run in live}
            if not live:
                return
            keys = {_keys(run)[0]: run for run in live}
            streams: dict[Any, Any] = {key: f"{live[run].last}-0" for key, run in keys.items()}
            streams[self.wake_key] = self._wake_last
            self._reading, self._woken = set(live), False
            try:
                answer: Any = await self._channel.blocking.xread(streams, count=READ_COUNT, block=READ_BLOCK_MS)
            except (RedisError, OSError) as exc:
                if isinstance(exc, ClusterCrossSlotError):
                    self.cross_slot = True
                    self._fail(None)
                    return
                self._fail(_unavailable(exc))
                await asyncio.sleep(0.5)  # the feeds fail and leave; then this read ends
                continue
            finally:
                self._reading = set()
            for raw_key, entries in answer or []:
                key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
                if key == self.wake_key:
                    last = entries[-1][0]
                    self._wake_last = last.decode() if isinstance(last, bytes) else str(last)
                elif key in keys:
                    live[keys[key]].add(_stored(entries))

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()


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
        self._reader = SharedReader(self)

    @property
    def blocking(self) -> redis.Redis:
        """The client for blocking reads (its own connections)."""
        return self._blocking

    async def wake(self, key: str) -> None:
        """Add an entry to the wake stream ``key``, which a shared read waits on."""
        await self._client.xadd(key, {"w": "1"}, maxlen=1, approximate=False)
        await self._client.expire(key, WAKE_SECONDS)

    async def follow(self, run_id: str, feed: RunFeed, timeout: float) -> list[StoredEvent]:
        """The run's events from other instances reach ``feed`` through the shared read."""
        if not self._reader.cross_slot:
            await self._reader.follow(run_id, feed, timeout)
            if not self._reader.cross_slot:
                return []
        return await self.wait(run_id, feed.last, timeout)

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
        self._reader.close()
        try:
            await self._client.delete(self._reader.wake_key)
        except (RedisError, OSError):
            pass  # Redis is gone; the key expires on its own
        await self._client.aclose()
        await self._blocking.aclose()
