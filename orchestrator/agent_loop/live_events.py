"""Publishing a run's live events from the app: activities and the run API, never the orchestrator.

The channel comes from the settings (``TOOLMESH_EVENTS``) and is opened once per event loop.
Publishing never fails a run: when the channel cannot be reached the events are dropped with a
warning, and the next publish that gets through first records how many were lost, so watchers
see the gap instead of a silently shorter stream.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from run_events import ChannelConfig, ChannelUnavailable, EventChannel, Keyed, custom, open_channel

from .settings import Settings, get_settings

__all__ = ["agui_call_id", "event_channel", "keyed", "now_ms", "publish"]

log = logging.getLogger("toolmesh.live_events")

_channels: dict[asyncio.AbstractEventLoop, EventChannel] = {}
_lost: dict[str, int] = {}


def now_ms() -> int:
    return int(time.time() * 1000)


def agui_call_id(instance_id: str, call_id: str) -> str:
    """A tool call's id in the event stream: the run's call id, unique across a network's sub-runs."""
    return f"{instance_id}/{call_id}"


def channel_config(settings: Settings) -> ChannelConfig:
    path = settings.events_path or Path(tempfile.gettempdir()) / "toolmesh-run-events.sqlite3"
    return ChannelConfig(
        url=settings.events_url,
        path=path,
        max_events=settings.events_max_per_run,
        max_age_seconds=settings.events_max_age_seconds,
    )


def event_channel() -> EventChannel | None:
    """This event loop's channel, or None when live events are off (``TOOLMESH_EVENTS=off``)."""
    settings = get_settings()
    if settings.events_url.strip().lower() == "off":
        return None
    loop = asyncio.get_running_loop()
    channel = _channels.get(loop)
    if channel is None:
        for old in [known for known in _channels if known.is_closed()]:
            del _channels[old]
        channel = _channels[loop] = open_channel(channel_config(settings))
    return channel


async def publish(stream: str, events: list[Keyed]) -> None:
    """Append ``events`` to ``stream`` (a run id); a failure is logged and counted, never raised."""
    channel = event_channel()
    if channel is None or not events:
        return
    lost = _lost.pop(stream, 0)
    batch = events
    if lost:
        batch = [(None, custom("toolmesh.events_lost", {"count": lost}, now_ms())), *events]
    try:
        await channel.append(stream, batch)
    except ChannelUnavailable as exc:
        _lost[stream] = lost + len(events)
        if not lost:  # once per outage of this run's stream, not once per delta
            log.warning("live events of run %s are not published until the channel is back: %s", stream, exc)


def keyed(events: Any) -> list[Keyed]:
    """Events an orchestrator handed to an activity (``[[key, event], ...]``) as the channel takes them."""
    if not isinstance(events, list):
        return []
    return [(str(k) if k is not None else None, e) for k, e in events if isinstance(e, dict)]
