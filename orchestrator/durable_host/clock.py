"""Where the host reads the time, so a test can move it instead of waiting.

Wall time drives everything durable: when messages and timers become visible, the
timestamps of history events (an episode's ``current_utc_datetime``), instances' created
times. The monotonic clock only paces the scheduler's in-memory holds (fan-in batching,
idle sessions), which never outlive the process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["SYSTEM_CLOCK", "HostClock"]


@dataclass(frozen=True)
class HostClock:
    wall: Callable[[], float] = time.time
    """Seconds since the epoch, as ``time.time`` gives them."""
    monotonic: Callable[[], float] = time.monotonic

    def now(self) -> datetime:
        """The wall time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.wall(), UTC)


SYSTEM_CLOCK = HostClock()
