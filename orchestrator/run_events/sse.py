"""A run's events as Server-Sent Events: replay after the last id seen, then follow until the end.

Each event goes out as ``id: <n>`` plus one ``data:`` line of AG-UI JSON, so a browser's
EventSource (or any client sending ``Last-Event-ID``) resumes exactly after the last event it
got. Silence is broken by a comment every ``keepalive`` seconds so proxies keep the stream
open. The stream ends after the run's closing event. Notices that are not events of the run
(events trimmed away, the channel unreachable) are ``CUSTOM`` events without an id, so they
never move a client's resume point.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson

from .agui import FINAL_KEY, custom
from .channel import ChannelUnavailable, EventChannel
from .fanout import Frame, RunFeed, frame

__all__ = ["RETRY_MS", "sse_frames"]

log = logging.getLogger("toolmesh.run_events")

RETRY_MS = 2000
"""How long a disconnected EventSource waits before reconnecting."""
FIRST_CHECK_SECONDS = 1.0
"""Silence after which a watcher first asks whether the run ended without a closing event. A run
that is going on says so by its events; asking at once cost every watcher a status lookup."""

Closing = Callable[[], Awaitable[dict[str, Any] | None]]
"""The run's closing event when the run has ended (None while it runs); see ``sse_frames``."""


def _notice(name: str, value: dict[str, Any]) -> bytes:
    event = custom(name, value, int(time.time() * 1000))
    return b"data: " + orjson.dumps(event) + b"\n\n"


async def sse_frames(
    channel: EventChannel, run_id: str, after: int, *, keepalive: float, closing: Closing
) -> AsyncIterator[bytes]:
    """The SSE body for one watcher of ``run_id``, starting after event ``after``.

    The watcher reads what the channel keeps until it has caught up, then joins the run's
    shared feed in this process (``fanout``); should it fall behind the feed, it reads from the
    channel again. ``closing`` is asked after the first ``FIRST_CHECK_SECONDS`` of silence and
    after each silent ``keepalive`` from then on, while the watcher goes on reading (a slow
    answer delays nothing): when the run has ended
    and its stream holds no closing event (the run could not publish it: a crash, a failure
    outside the loop), the event it returns is published under ``FINAL_KEY``, so every
    watcher sees the same one and the stream ends.
    """
    yield f"retry: {RETRY_MS}\n\n".encode()
    last = after
    ended = False
    check: asyncio.Future[dict[str, Any] | None] | None = None
    silence = min(keepalive, FIRST_CHECK_SECONDS)  # until ``closing`` is first asked
    feed: RunFeed | None = None
    with contextlib.ExitStack() as joined:
        joined.callback(lambda: check is not None and check.cancel())
        try:
            while True:
                if check is not None and check.done():
                    ending, check = check.result(), None
                    if ending is not None and not ended:
                        ended = True  # what is kept is all there will be: read it, then close
                        if not await channel.has_key(run_id, FINAL_KEY):
                            await channel.append(run_id, [(FINAL_KEY, ending)])
                found: list[Frame] | None = None
                if feed is not None and not ended:
                    if feed.error is not None:
                        raise ChannelUnavailable(feed.error)
                    found = feed.after(last)
                    if found == []:
                        if not await feed.changed(silence, also=check):
                            if check is None:
                                check = asyncio.ensure_future(closing())
                            if silence < keepalive:  # the first check: no keep-alive is due yet
                                silence = keepalive
                                continue
                            yield b": keep-alive\n\n"
                        continue
                if found is None:  # not following the feed (yet), or behind it: read what is kept
                    found = [frame(event) for event in await channel.read(run_id, last)]
                    if not found:
                        if ended:
                            return
                        if feed is None:
                            feed = joined.enter_context(channel.fanout.watch(run_id, last))
                            continue
                        # the events between here and the feed are gone (trimmed, or the stream deleted)
                        yield _notice("toolmesh.events_trimmed", {"after": last, "next": feed.floor + 1})
                        last = feed.floor
                        continue
                if found[0].id > last + 1:
                    first = await channel.first_id(run_id)
                    yield _notice("toolmesh.events_trimmed", {"after": last, "next": first or found[0].id})
                sending: list[bytes] = []  # the frames of one wake-up go out in one write
                for event in found:
                    last = event.id
                    sending.append(event.data)
                    if event.final:
                        yield b"".join(sending)
                        return
                yield b"".join(sending)
        except ChannelUnavailable as exc:
            log.warning("the event stream of run %s stopped: %s", run_id, exc)
            yield _notice("toolmesh.events_unavailable", {"after": last, "reason": str(exc)})
