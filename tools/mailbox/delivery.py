"""Delivers stored replies to their callback URLs, retrying with backoff until they land.

The queue lives in SQLite (see ``store.py``), so a reply posted before a crash is
delivered after the restart. Delivery is at least once: a crash between the receiver's
answer and the ``delivered`` mark sends the reply again, so each POST carries an
``Idempotency-Key`` derived from the message id for the receiver to drop repeats.
A callback whose origin is no longer allowed is given up, and so is one the receiver
answers 409 or 410 (it took that reply already, or no longer waits for it); any other
failure (refused connection, timeout, other non-2xx) is retried, waiting twice as long
each time up to a ceiling, with jitter so many retries do not arrive together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

import httpx

from .callbacks import AllowedOrigin, check_callback_url
from .errors import CallbackNotAllowed
from .store import Clock, DeliveryRecord, MessageStore

__all__ = ["Deliverer", "backoff_delay"]

logger = logging.getLogger(__name__)

# 409: the receiver took this reply already or no longer waits for it; 410: it is gone for good.
_FINAL_REFUSALS = frozenset({409, 410})

IDLE_WAIT = 5.0
"""Longest sleep with nothing due; wake-ups from new replies cut it short."""


def backoff_delay(attempts: int, *, initial: float, ceiling: float) -> float:
    """Seconds to wait after ``attempts`` failed attempts: doubling, capped, jittered down to half."""
    delay = min(initial * 2 ** min(attempts - 1, 30), ceiling)
    return float(delay * random.uniform(0.5, 1.0))


class Deliverer:
    """The background worker that empties the delivery queue."""

    def __init__(
        self,
        store: MessageStore,
        client: httpx.AsyncClient,
        *,
        allowed: tuple[AllowedOrigin, ...],
        initial_backoff: float,
        max_backoff: float,
        clock: Clock = time.time,
    ) -> None:
        self._store = store
        self._clock = clock
        self._client = client
        self._allowed = allowed
        self._initial = initial_backoff
        self._ceiling = max_backoff
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """Ask the worker to look at the queue now; safe to call from any thread."""
        if self._loop is not None and self._event is not None:
            self._loop.call_soon_threadsafe(self._event.set)

    async def run(self) -> None:
        """Deliver what is due, then sleep until the next attempt is due or a wake-up."""
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        while True:
            self._event.clear()
            try:
                await self.deliver_due()
            except Exception:  # the worker must outlive any single bad delivery
                logger.exception("delivery pass failed")
            next_at = self._store.next_attempt_at()
            wait = IDLE_WAIT if next_at is None else min(max(next_at - self._clock(), 0.0), IDLE_WAIT)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), timeout=wait)

    async def deliver_due(self) -> int:
        """Attempt every delivery that is due; return how many were attempted."""
        due = self._store.due_deliveries(now=self._clock())
        for delivery in due:
            await self._attempt(delivery)
        return len(due)

    async def _attempt(self, delivery: DeliveryRecord) -> None:
        context = {"message_id": delivery.message_id, "attempt": delivery.attempts + 1}
        try:
            check_callback_url(delivery.url, self._allowed)
        except CallbackNotAllowed as exc:
            self._store.mark_failed(delivery.message_seq, error=exc.message)
            logger.warning("reply delivery abandoned: callback origin no longer allowed", extra=context)
            return
        try:
            response = await self._client.post(
                delivery.url,
                content=delivery.payload,
                headers={
                    "Content-Type": "application/json",
                    "Idempotency-Key": f"mailbox-reply-{delivery.message_id}",
                },
            )
            error = None if response.is_success else f"callback answered HTTP {response.status_code}"
            if response.status_code in _FINAL_REFUSALS:
                self._store.mark_failed(delivery.message_seq, error=f"{error}: the receiver does not take it")
                logger.warning("reply delivery abandoned: the receiver refused it for good", extra=context)
                return
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if error is None:
            self._store.mark_delivered(delivery.message_seq)
            logger.info("reply delivered", extra=context)
            return
        delay = backoff_delay(delivery.attempts + 1, initial=self._initial, ceiling=self._ceiling)
        self._store.mark_retry(delivery.message_seq, error=error, next_attempt_at=self._clock() + delay)
        logger.warning(
            "reply delivery failed; will retry",
            extra={**context, "error": error, "retry_in_s": round(delay, 2)},
        )
