"""A clock a test moves by hand, for classes that take their clock injected."""

from __future__ import annotations

__all__ = ["ManualClock"]


class ManualClock:
    """Seconds, as ``time.time`` or ``time.monotonic`` give them; advance by adding to ``now``."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
