"""Watchers of one run share one reader: same frames for all, nothing missed by a slow one.

These drive ``sse_frames`` (the body of ``GET /api/runs/{id}/events``) directly on real
channels, the embedded file and a real Redis, to count what the channel is asked.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis import Redis

from run_events import ChannelConfig, EventChannel, custom, open_channel, redis_channel, run_finished, sse_frames
from run_events.fanout import RING_SIZE
from tests.support import redis_server
from tests.support.servers import free_port


def _config(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> ChannelConfig:
    if kind == "redis":
        return ChannelConfig(url=request.getfixturevalue("redis_url"), max_events=5000)
    return ChannelConfig(path=tmp_path / "events.sqlite3", max_events=5000)


@pytest.fixture(params=["embedded", "redis"])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> ChannelConfig:
    return _config(request.param, tmp_path, request)


@pytest.fixture
async def channel(config: ChannelConfig) -> AsyncIterator[EventChannel]:
    opened = open_channel(config)
    yield opened
    await opened.close()


def _event(n: int) -> dict[str, Any]:
    return custom("toolmesh.test", {"n": n}, 0)


async def _nobody_ends() -> dict[str, Any] | None:
    return None


async def _collect(channel: EventChannel, run: str, into: list[int], *, pause: asyncio.Event | None = None) -> None:
    """Follow ``run`` to its closing event, the ids of its events into ``into`` (after ``pause`` is set)."""
    async for chunk in sse_frames(channel, run, 0, keepalive=30, closing=_nobody_ends):
        if pause is not None and b"id: " in chunk:
            await pause.wait()
        into += [int(n) for n in re.findall(rb"^id: (\d+)$", chunk, re.MULTILINE)]


async def _until(check: Any, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


async def test_watchers_of_a_run_share_one_reader(channel: EventChannel, monkeypatch: pytest.MonkeyPatch) -> None:
    run, watchers, total = f"run-{uuid.uuid4().hex[:8]}", 20, 200
    reads = 0
    read = channel.read

    async def counting(run_id: str, after: int, limit: int = 500) -> Any:
        nonlocal reads
        reads += 1
        return await read(run_id, after, limit)

    monkeypatch.setattr(channel, "read", counting)
    seen: list[list[int]] = [[] for _ in range(watchers)]
    following = [asyncio.create_task(_collect(channel, run, into)) for into in seen]
    await _until(lambda: channel.fanout._feeds.get(run) is not None and channel.fanout._feeds[run].watchers == watchers)
    for n in range(1, total, 10):
        await channel.append(run, [(None, _event(n + i)) for i in range(10)])
        await asyncio.sleep(0.005)
    await channel.append(run, [(None, run_finished(run, 0))])
    await asyncio.wait_for(asyncio.gather(*following), 30)
    assert all(ids == list(range(1, total + 2)) for ids in seen)
    # each watcher reads the channel once to catch up, then the feed serves it: not once per event
    assert reads <= 2 * watchers + 10
    assert run not in channel.fanout._feeds  # the last watcher gone, the feed is dropped


async def test_a_slow_watcher_misses_nothing_and_holds_no_one_up(channel: EventChannel) -> None:
    run, total = f"run-{uuid.uuid4().hex[:8]}", 50 * (3 * RING_SIZE // 50)
    fast: list[int] = []
    slow: list[int] = []
    go_on = asyncio.Event()
    following = [
        asyncio.create_task(_collect(channel, run, fast)),
        asyncio.create_task(_collect(channel, run, slow, pause=go_on)),
    ]
    await _until(lambda: channel.fanout._feeds.get(run) is not None and channel.fanout._feeds[run].watchers == 2)
    for n in range(1, total, 50):
        await channel.append(run, [(None, _event(n + i)) for i in range(50)])
    await channel.append(run, [(None, run_finished(run, 0))])
    await _until(lambda: len(fast) == total + 1)
    assert fast == list(range(1, total + 2)) and not slow  # the slow one has read nothing so far
    go_on.set()
    await asyncio.wait_for(asyncio.gather(*following), 30)
    assert slow == list(range(1, total + 2))  # its backlog came from the channel, once each and in order


async def test_a_feed_takes_this_process_s_appends_without_reading_them_back(
    channel: EventChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Appends made here reach the run's watchers here directly: the feed's own reader, which
    waits for appends from elsewhere, never returns in this test."""

    async def never(run_id: str, feed: Any, timeout: float) -> list[Any]:
        await asyncio.Event().wait()
        return []

    monkeypatch.setattr(channel, "follow", never)
    run = f"run-{uuid.uuid4().hex[:8]}"
    seen: list[int] = []
    following = asyncio.create_task(_collect(channel, run, seen))
    await _until(lambda: run in channel.fanout._feeds)
    for n in range(1, 21):
        await channel.append(run, [(None, _event(n))])
    await channel.append(run, [(None, run_finished(run, 0))])
    await asyncio.wait_for(following, 30)
    assert seen == list(range(1, 22))


async def test_a_feed_takes_appends_from_another_process(config: ChannelConfig) -> None:
    """A second channel on the same file (or Redis) stands for an activity in another process."""
    here, elsewhere = open_channel(config), open_channel(config)
    run = f"run-{uuid.uuid4().hex[:8]}"
    try:
        seen: list[int] = []
        following = asyncio.create_task(_collect(here, run, seen))
        await _until(lambda: run in here.fanout._feeds)
        for n in range(30):  # both processes publish, interleaved
            await (elsewhere if n % 3 else here).append(run, [(None, _event(n))])
        await elsewhere.append(run, [(None, run_finished(run, 0))])
        await asyncio.wait_for(following, 30)
        assert seen == list(range(1, 32))
    finally:
        await here.close()
        await elsewhere.close()


async def test_more_followed_runs_than_a_connection_pool_holds(channel: EventChannel) -> None:
    """Each followed run's reader may hold a connection while it waits (Redis): publishers still get theirs."""
    runs = [f"run-{uuid.uuid4().hex[:8]}" for _ in range(150)]
    seen: dict[str, list[int]] = {run: [] for run in runs}
    following = [asyncio.create_task(_collect(channel, run, seen[run])) for run in runs]
    await _until(lambda: all(run in channel.fanout._feeds for run in runs))
    await asyncio.gather(*(channel.append(run, [(None, _event(1)), (None, run_finished(run, 0))]) for run in runs))
    await asyncio.wait_for(asyncio.gather(*following), 60)
    assert all(ids == [1, 2] for ids in seen.values())


async def _blocked_reads(redis_url: str) -> int:
    """Connections of the Redis server waiting in a blocking command (``XREAD``) now."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        return sum("b" in str(c.get("flags", "")) for c in await client.client_list())
    finally:
        await client.aclose()


async def _followed_while_published_elsewhere(
    config: ChannelConfig, count: int, following_all: Callable[[], Awaitable[None]] | None = None
) -> EventChannel:
    """Follow ``count`` runs in one channel while another (an instance elsewhere) appends three events
    and the end to each; every run must be seen whole. ``following_all`` runs once all are followed.
    Returns the following channel, closed."""
    here, elsewhere = open_channel(config), open_channel(config)
    runs = [f"run-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    seen: dict[str, list[int]] = {run: [] for run in runs}
    try:
        following = [asyncio.create_task(_collect(here, run, seen[run])) for run in runs]
        await _until(lambda: all(run in here.fanout._feeds for run in runs))
        if following_all is not None:
            await following_all()
        for n in range(3):
            await asyncio.gather(*(elsewhere.append(run, [(None, _event(n))]) for run in runs))
        await asyncio.gather(*(elsewhere.append(run, [(None, run_finished(run, 0))]) for run in runs))
        await asyncio.wait_for(asyncio.gather(*following), 30)
        assert all(ids == [1, 2, 3, 4] for ids in seen.values()), seen
    finally:
        await here.close()
        await elsewhere.close()
    return here


async def test_a_process_waits_on_one_redis_connection_for_all_the_runs_it_follows(redis_url: str) -> None:
    async def one_blocked_read() -> None:
        await asyncio.sleep(0.3)  # the runs that joined last are in the read by now
        assert await _blocked_reads(redis_url) == 1

    await _followed_while_published_elsewhere(ChannelConfig(url=redis_url), 20, one_blocked_read)


async def test_a_run_followed_while_the_shared_read_waits_joins_it_at_once(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_channel, "READ_BLOCK_MS", 120_000)  # the read would not come back by itself
    config = ChannelConfig(url=redis_url)
    here, elsewhere = open_channel(config), open_channel(config)
    first, second = f"run-{uuid.uuid4().hex[:8]}", f"run-{uuid.uuid4().hex[:8]}"
    seen: dict[str, list[int]] = {first: [], second: []}
    try:
        following = [asyncio.create_task(_collect(here, first, seen[first]))]
        await _until(lambda: first in here.fanout._feeds)
        await _until_async(lambda: _blocked_reads(redis_url), 1)
        following.append(asyncio.create_task(_collect(here, second, seen[second])))
        await _until(lambda: second in here.fanout._feeds)
        await elsewhere.append(second, [(None, _event(1)), (None, run_finished(second, 0))])
        await asyncio.wait_for(following[1], 10)
        assert seen[second] == [1, 2]
        await elsewhere.append(first, [(None, run_finished(first, 0))])
        await asyncio.wait_for(following[0], 10)
        assert seen[first] == [1]
    finally:
        await here.close()
        await elsewhere.close()


async def _until_async(check: Any, expected: Any, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while await check() != expected:
            await asyncio.sleep(0.02)


@pytest.fixture
def cluster_url(tmp_path: Path) -> Iterator[str]:
    """A one-node Redis cluster holding every hash slot: it refuses one command over keys of several slots."""
    if not redis_server.available():
        pytest.skip(redis_server.MISSING)
    # The cluster bus gets a port of its own: by default it is the client port + 10000, which may be taken or too high.
    cluster = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", str(free_port()))
    with redis_server.redis_server(tmp_path, *cluster) as url:
        client: Any = Redis.from_url(url)
        try:
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
            deadline = time.monotonic() + 15
            while b"cluster_state:ok" not in client.execute_command("CLUSTER", "INFO"):
                assert time.monotonic() < deadline, "the one-node cluster did not come up"
                time.sleep(0.05)
        finally:
            client.close()
        yield url


async def test_in_a_redis_cluster_each_followed_run_is_read_on_its_own(cluster_url: str) -> None:
    here = await _followed_while_published_elsewhere(ChannelConfig(url=cluster_url), 3)
    assert isinstance(here, redis_channel.RedisChannel) and here._reader.cross_slot


async def test_watchers_are_told_when_redis_goes_away_while_they_follow(tmp_path: Path) -> None:
    if not redis_server.available():
        pytest.skip(redis_server.MISSING)
    run = f"run-{uuid.uuid4().hex[:8]}"
    chunks: list[bytes] = []
    with redis_server.redis_server(tmp_path) as url:
        channel = open_channel(ChannelConfig(url=url))

        async def follow() -> None:
            async for chunk in sse_frames(channel, run, 0, keepalive=30, closing=_nobody_ends):
                chunks.append(chunk)

        following = asyncio.create_task(follow())
        await channel.append(run, [(None, _event(1))])
        await _until(lambda: any(b"id: 1" in chunk for chunk in chunks))
    # The server is gone: the stream says so and ends instead of waiting for events that cannot come.
    try:
        await asyncio.wait_for(following, 15)
        assert b"toolmesh.events_unavailable" in chunks[-1], chunks
    finally:
        await channel.close()
