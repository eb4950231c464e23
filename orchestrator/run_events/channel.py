"""The event channel: where a run's events are appended, numbered, kept for a while and read back.

Two implementations share this interface: ``SqliteChannel`` (a file, nothing to install; every
process on the machine that opens the same file shares the streams) and ``RedisChannel``
(Redis Streams, for app instances on several machines). Choose with ``open_channel``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .fanout import Fanout, RunFeed

__all__ = ["ChannelConfig", "ChannelUnavailable", "EventChannel", "Keyed", "StoredEvent", "open_channel"]

DEFAULT_MAX_EVENTS = 10_000
DEFAULT_MAX_AGE_SECONDS = 7 * 86_400

Keyed = tuple[str | None, dict[str, Any]]
"""An event to append with its idempotency key (None: never deduplicated, e.g. a text delta)."""


class ChannelUnavailable(Exception):
    """The channel cannot be reached (Redis down, the file unwritable); the run goes on without it."""


@dataclass(frozen=True, kw_only=True)
class StoredEvent:
    """An event as the channel holds it: its per-run id and its AG-UI JSON text."""

    id: int
    data: str


@dataclass(frozen=True, kw_only=True)
class ChannelConfig:
    """Where events go and how many are kept."""

    url: str = ""
    """Empty or ``sqlite:///path``: the embedded file at ``path``; ``redis://`` or ``rediss://``: Redis."""
    path: Path | None = None
    """The embedded channel's file when ``url`` is empty."""
    max_events: int = DEFAULT_MAX_EVENTS
    """Events kept per run; older ones are trimmed (a watcher behind them is told of the gap)."""
    max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS
    """A run's stream is dropped this long after its last event."""


class EventChannel(abc.ABC):
    """Per-run ordered event streams with strictly increasing ids starting at 1."""

    _fanout: Fanout | None = None

    @property
    def fanout(self) -> Fanout:
        """The shared feeds of the runs watched through this channel (see ``fanout``)."""
        if self._fanout is None:
            from .fanout import Fanout

            self._fanout = Fanout(self)
        return self._fanout

    async def follow(self, run_id: str, feed: RunFeed, timeout: float) -> list[StoredEvent]:
        """Events after ``feed.last`` for the run's one reader, waiting up to ``timeout`` for some.

        A channel that hands its own appends to the feed (``Fanout.deliver``) need only wake
        here for events appended by other processes.
        """
        return await self.wait(run_id, feed.last, timeout)

    @abc.abstractmethod
    async def append(self, run_id: str, events: list[Keyed]) -> list[int]:
        """Append in order; returns the ids given (an event whose key the run already has gets none)."""

    @abc.abstractmethod
    async def read(self, run_id: str, after: int, limit: int = 500) -> list[StoredEvent]:
        """Events with an id above ``after``, oldest first."""

    @abc.abstractmethod
    async def wait(self, run_id: str, after: int, timeout: float, limit: int = 500) -> list[StoredEvent]:
        """Like ``read``, but waits up to ``timeout`` seconds for one to come; [] if none did."""

    @abc.abstractmethod
    async def first_id(self, run_id: str) -> int | None:
        """The oldest id still kept (None: the run has no stream), to tell a watcher of trimmed events."""

    @abc.abstractmethod
    async def has_key(self, run_id: str, key: str) -> bool:
        """Whether an event with ``key`` was appended to the run's stream."""

    @abc.abstractmethod
    async def delete(self, run_id: str) -> None:
        """Drop the run's stream (the run was purged)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections and threads."""


def open_channel(config: ChannelConfig) -> EventChannel:
    """The channel ``config.url`` names (see ChannelConfig.url); ValueError for an unknown scheme."""
    url = config.url.strip()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from .redis_channel import RedisChannel

        return RedisChannel(url, max_events=config.max_events, max_age_seconds=config.max_age_seconds)
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") - 1 :])
    elif not url:
        if config.path is None:
            raise ValueError("the embedded event channel needs a file path")
        path = config.path
    else:
        raise ValueError(f"unknown event channel {url!r}: use redis://, rediss://, sqlite:/// or leave it empty")
    from .sqlite_channel import SqliteChannel

    return SqliteChannel(path, max_events=config.max_events, max_age_seconds=config.max_age_seconds)
