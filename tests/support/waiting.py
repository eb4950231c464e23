"""Waiting in tests on a condition, never for a fixed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["wait_until", "wait_until_async"]

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T | None], *, timeout: float = 15.0, interval: float = 0.02, what: str = ""
) -> T:
    """The first truthy value ``condition`` returns; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not met within {timeout} s: {what or condition}")
        time.sleep(interval)


async def wait_until_async(
    condition: Callable[[], T | None], *, timeout: float = 15.0, interval: float = 0.01, what: str = ""
) -> T:
    """``wait_until`` inside an event loop: the loop keeps running between checks."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not met within {timeout} s: {what or condition}")
        await asyncio.sleep(interval)
