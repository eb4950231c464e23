"""One reader per watched run in this process, shared by all of the run's watchers.

Without it every watcher would read the channel itself after each event: a hundred watchers
on one run meant a hundred reads per token. Here a run's ``RunFeed`` reads the channel once
(``EventChannel.follow``), turns each event into its SSE frame once, and keeps the latest
``RING_SIZE`` frames; each watcher only holds a cursor into them. Events appended by this
process are handed to the feed at once (``deliver``), without reading them back.

A watcher whose cursor falls behind the frames kept (it reads slower than the run writes)
costs the others nothing: it reads its backlog from the channel, like a client resuming by
``Last-Event-ID``, and rejoins the shared frames when it has caught up. Nothing waits for a
watcher, so no watcher slows the run or the other watchers.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from .agui import is_final

if TYPE_CHECKING:
    from .channel import EventChannel, StoredEvent

__all__ = ["RING_SIZE", "Fanout", "Frame", "RunFeed", "frame"]

log = logging.getLogger("toolmesh.run_events")

RING_SIZE = 512
"""Frames a run's feed keeps for its watchers; a watcher further behind reads from the channel."""
FOLLOW_SECONDS = 15.0
"""How long the feed's reader waits for events from elsewhere before it looks again anyway."""


@dataclass(frozen=True, slots=True)
class Frame:
    """An event as every watcher sends it: its id, its SSE bytes, and whether it ends the stream."""

    id: int
    data: bytes
    final: bool


def frame(event: StoredEvent) -> Frame:
    final = '"type":"RUN_' in event.data and is_final(orjson.loads(event.data))
    return Frame(id=event.id, data=b"id: %d\ndata: %s\n\n" % (event.id, event.data.encode()), final=final)


class RunFeed:
    """The events of one run seen by this process since its first watcher joined, as frames.

    ``frames`` holds every event with an id above ``floor`` up to ``last`` (at most
    ``RING_SIZE``, oldest dropped first).
    """

    def __init__(self, channel: EventChannel, run_id: str, after: int) -> None:
        self._channel = channel
        self.run_id = run_id
        self.last = after
        self.floor = after
        self.frames: list[Frame] = []
        self.error: str | None = None
        self.watchers = 0
        self._waiting: list[asyncio.Future[None]] = []
        self._reader: asyncio.Task[None] | None = None
        self._refresh: asyncio.Task[None] | None = None
        self._refresh_again = False

    # -- watchers ---------------------------------------------------------------------------

    def after(self, last: int) -> list[Frame] | None:
        """Frames with an id above ``last``; None when the feed no longer holds them all."""
        if last >= self.last:
            return []
        if last < self.floor:
            return None
        return self.frames[bisect.bisect_right(self.frames, last, key=_frame_id) :]

    async def changed(self, timeout: float, also: asyncio.Future[Any] | None = None) -> bool:
        """Wait until the feed moves on (or fails, or ``also`` is done); False when ``timeout`` passed first."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        try:
            if also is None:
                await asyncio.wait_for(future, timeout)
            else:
                done, _ = await asyncio.wait((future, also), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                return bool(done)
        except TimeoutError:
            return False
        finally:
            if future in self._waiting:
                self._waiting.remove(future)
        return True

    # -- filling ----------------------------------------------------------------------------

    def add(self, events: Sequence[StoredEvent]) -> None:
        """Events read from the channel after ``last`` (a jump over trimmed ids is kept as is)."""
        fresh = [frame(event) for event in events if event.id > self.last]
        if not fresh:
            return
        self.frames += fresh
        if len(self.frames) > 2 * RING_SIZE:  # trim in steps, not on every event
            self.floor = self.frames[-RING_SIZE - 1].id
            del self.frames[:-RING_SIZE]
        self.last = fresh[-1].id
        self._wake()

    def deliver(self, events: Sequence[StoredEvent]) -> None:
        """Events this process just appended: taken as they are when they follow on from ``last``;
        otherwise another process appended in between, and the feed reads the channel."""
        if not events or events[-1].id <= self.last:
            return
        if events[0].id <= self.last + 1:
            self.add(events)
        else:
            self._read_again()

    def fail(self, reason: str) -> None:
        self.error = reason
        self._wake()

    def _wake(self) -> None:
        waiting, self._waiting = self._waiting, []
        for future in waiting:
            if not future.done():
                future.set_result(None)

    def _read_again(self) -> None:
        if self._refresh is not None and not self._refresh.done():
            self._refresh_again = True
            return
        self._refresh = asyncio.get_running_loop().create_task(self._catch_up())

    async def _catch_up(self) -> None:
        from .channel import ChannelUnavailable

        try:
            while True:
                self._refresh_again = False
                self.add(await self._channel.read(self.run_id, self.last))
                if not self._refresh_again:
                    return
        except ChannelUnavailable as exc:
            self.fail(str(exc))

    async def _follow(self) -> None:
        """The feed's one reader: events appended elsewhere (other processes, other instances)."""
        from .channel import ChannelUnavailable

        try:
            while self.watchers > 0:
                self.add(await self._channel.follow(self.run_id, self, FOLLOW_SECONDS))
        except ChannelUnavailable as exc:
            self.fail(str(exc))
        except Exception as exc:  # a reader that dies must not leave its watchers waiting forever
            log.exception("the event feed of run %s failed", self.run_id)
            self.fail(f"{type(exc).__name__}: {exc}")

    def _start(self) -> None:
        self._reader = asyncio.get_running_loop().create_task(self._follow())

    def _stop(self) -> None:
        for task in (self._reader, self._refresh):
            if task is not None and not task.done():
                task.cancel()


def _frame_id(item: Frame) -> int:
    return item.id


class Fanout:
    """The feeds of the runs watched in this process (on one event loop)."""

    def __init__(self, channel: EventChannel) -> None:
        self._channel = channel
        self._feeds: dict[str, RunFeed] = {}

    @contextmanager
    def watch(self, run_id: str, after: int) -> Iterator[RunFeed]:
        """Join the run's feed (started at ``after`` when it is the first watcher), leave on exit."""
        feed = self._feeds.get(run_id)
        if feed is None or feed.error is not None:
            feed = self._feeds[run_id] = RunFeed(self._channel, run_id, after)
            feed.watchers = 1
            feed._start()
        else:
            feed.watchers += 1
        try:
            yield feed
        finally:
            feed.watchers -= 1
            if feed.watchers == 0:
                feed._stop()
                if self._feeds.get(run_id) is feed:
                    del self._feeds[run_id]

    def deliver(self, run_id: str, events: Sequence[StoredEvent]) -> None:
        feed = self._feeds.get(run_id)
        if feed is not None:
            feed.deliver(events)

    def close(self) -> None:
        for feed in self._feeds.values():
            feed._stop()
        self._feeds.clear()
