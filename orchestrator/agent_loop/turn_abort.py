"""An aborted chat turn stops its own work: activities of the turn give up when a person aborts it.

The orchestrator stops waiting for the turn at once (the abort event wins its race), but the
model step or tool call already running would go on. Each activity of a turn therefore runs
its work beside a watch on the conversation store's aborted turns and cancels the work (the
HTTP request to the gateway or the tool is closed) as soon as the turn is marked.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

from .conversation_store import conversation_store

__all__ = ["POLL_SECONDS", "unless_aborted"]

T = TypeVar("T")
POLL_SECONDS = 0.25


async def unless_aborted(run_id: str, turn: str | None, work: Coroutine[Any, Any, T]) -> tuple[T | None, bool]:
    """``work``'s result and False; or None and True when the turn was (or gets) aborted first."""
    if not turn:
        return await work, False
    store = conversation_store()
    if await asyncio.to_thread(store.turn_aborted, run_id, turn):
        work.close()
        return None, True
    running = asyncio.ensure_future(work)
    while True:
        done, _ = await asyncio.wait({running}, timeout=POLL_SECONDS)
        if done:
            return running.result(), False
        if await asyncio.to_thread(store.turn_aborted, run_id, turn):
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await running
            return None, True
