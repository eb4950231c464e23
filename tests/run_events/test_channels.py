"""Both event channels keep the same promises: ids, idempotent keys, waiting, trimming, deleting."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from run_events import ChannelConfig, ChannelUnavailable, EventChannel, StoredEvent, custom, open_channel


@pytest.fixture(params=["embedded", "redis"])
async def channel(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventChannel]:
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        opened = open_channel(ChannelConfig(url=url, max_events=50, max_age_seconds=600))
    else:
        opened = open_channel(ChannelConfig(path=tmp_path / "events.sqlite3", max_events=50, max_age_seconds=600))
    yield opened
    await opened.close()


def _event(n: int) -> dict[str, object]:
    return custom("toolmesh.test", {"n": n}, 0)


def _values(events: list[StoredEvent]) -> list[int]:
    return [orjson.loads(e.data)["value"]["n"] for e in events]


def _run() -> str:
    return f"run-{uuid.uuid4().hex[:8]}"


async def test_ids_start_at_one_and_increase_by_one_per_run(channel: EventChannel) -> None:
    run, other = _run(), _run()
    assert await channel.append(run, [(None, _event(1)), (None, _event(2))]) == [1, 2]
    assert await channel.append(other, [(None, _event(9))]) == [1]
    assert await channel.append(run, [(None, _event(3))]) == [3]
    events = await channel.read(run, 0)
    assert [e.id for e in events] == [1, 2, 3] and _values(events) == [1, 2, 3]
    assert [e.id for e in await channel.read(run, 2)] == [3]


async def test_an_event_with_a_key_already_used_is_dropped(channel: EventChannel) -> None:
    run = _run()
    assert await channel.append(run, [("a", _event(1)), ("b", _event(2))]) == [1, 2]
    assert await channel.append(run, [("a", _event(10)), (None, _event(3)), ("b", _event(20))]) == [3]
    assert _values(await channel.read(run, 0)) == [1, 2, 3]
    assert await channel.has_key(run, "a") and not await channel.has_key(run, "c")


async def test_a_waiting_reader_wakes_when_an_event_arrives(channel: EventChannel) -> None:
    run = _run()
    waiting = asyncio.create_task(channel.wait(run, 0, timeout=30))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await channel.append(run, [(None, _event(1))])
    events = await asyncio.wait_for(waiting, 10)
    assert [e.id for e in events] == [1]
    assert await channel.wait(run, 1, timeout=0.05) == []


async def test_old_events_are_trimmed_and_the_first_kept_id_says_so(channel: EventChannel) -> None:
    run = _run()
    for n in range(0, 200, 10):
        await channel.append(run, [(None, _event(n + i)) for i in range(10)])
    first = await channel.first_id(run)
    assert first is not None and first > 1
    kept = await channel.read(run, 0, limit=1000)
    assert kept[0].id == first and kept[-1].id == 200
    assert 50 <= len(kept) <= 200


async def test_a_deleted_stream_is_gone(channel: EventChannel) -> None:
    run = _run()
    await channel.append(run, [("k", _event(1))])
    await channel.delete(run)
    assert await channel.read(run, 0) == [] and await channel.first_id(run) is None
    assert not await channel.has_key(run, "k")


async def test_appends_from_another_connection_wake_a_waiting_reader(tmp_path: Path) -> None:
    """Two channels on one file stand for two processes (activity workers, a second app process)."""
    config = ChannelConfig(path=tmp_path / "events.sqlite3")
    reader, writer = open_channel(config), open_channel(config)
    try:
        waiting = asyncio.create_task(reader.wait("run", 0, timeout=30))
        await asyncio.sleep(0.1)
        await writer.append("run", [(None, _event(1))])
        assert [e.id for e in await asyncio.wait_for(waiting, 10)] == [1]
    finally:
        await reader.close()
        await writer.close()


async def test_an_unreachable_redis_is_channel_unavailable() -> None:
    channel = open_channel(ChannelConfig(url="redis://127.0.0.1:1/0"))
    try:
        with pytest.raises(ChannelUnavailable):
            await channel.append("run", [(None, _event(1))])
        with pytest.raises(ChannelUnavailable):
            await channel.wait("run", 0, timeout=0.1)
    finally:
        await channel.close()


async def test_an_append_waits_for_a_lock_held_elsewhere_without_blocking_the_loop(tmp_path: Path) -> None:
    """Another process holding the file's write lock: the append waits for it on the channel's thread."""
    import sqlite3

    path = tmp_path / "events.sqlite3"
    channel = open_channel(ChannelConfig(path=path))
    await channel.append("run", [(None, _event(1))])
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        appending = asyncio.create_task(channel.append("run", [(None, _event(2))]))
        ticks = 0
        for _ in range(20):  # the loop keeps running while the append waits
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 20 and not appending.done()
        other.execute("COMMIT")
        assert await asyncio.wait_for(appending, 30) == [2]
        assert _values(await channel.read("run", 0)) == [1, 2]
    finally:
        other.close()
        await channel.close()


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_stream_idle_past_the_age_limit_is_removed_and_a_growing_one_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded channel's age limit: a stream whose last event is older than it goes, whole;
    a stream that kept getting events stays, whatever its first event's age."""
    from run_events import sqlite_channel

    clock = _Clock()
    monkeypatch.setattr(sqlite_channel, "_now", clock)
    channel = open_channel(ChannelConfig(path=tmp_path / "events.sqlite3", max_events=1000, max_age_seconds=60))
    idle, growing = _run(), _run()
    try:
        await channel.append(idle, [("k", _event(1))])
        for n in range(1, 31):  # 300 s of events every 10 s, five times the age limit
            await channel.append(growing, [(None, _event(n))])
            clock.now += 10
        assert await channel.read(idle, 0) == [] and await channel.first_id(idle) is None
        assert not await channel.has_key(idle, "k")
        assert _values(await channel.read(growing, 0)) == list(range(1, 31))
        clock.now += 30  # within the limit of the last event: still there
        await channel.append(idle, [(None, _event(1))])
        assert await channel.first_id(growing) == 1
        clock.now += 200  # past it
        await channel.append(idle, [(None, _event(2))])
        assert await channel.read(growing, 0) == []
        assert [e.id for e in await channel.read(idle, 0)] == [1, 2]  # a stream removed starts again at 1
    finally:
        await channel.close()


async def test_appends_made_together_get_their_ids_in_order_per_run(tmp_path: Path) -> None:
    channel = open_channel(ChannelConfig(path=tmp_path / "events.sqlite3"))
    runs = [_run() for _ in range(5)]
    try:
        given = await asyncio.gather(
            *(channel.append(run, [(None, _event(n)), (None, _event(n + 1))]) for n in range(0, 6, 2) for run in runs)
        )
        assert given == [[1, 2]] * 5 + [[3, 4]] * 5 + [[5, 6]] * 5
        for run in runs:
            assert _values(await channel.read(run, 0)) == list(range(6))
    finally:
        await channel.close()
