"""The delivery worker's schedule, on a clock the test moves: a failed delivery waits its backoff."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.support.clock import ManualClock
from tools.mailbox.callbacks import parse_origins
from tools.mailbox.delivery import Deliverer
from tools.mailbox.store import MessageStore
from tools.service_kit.database import Database

CALLBACK = "http://receiver.test/cb/run-1"


def test_a_failed_delivery_is_due_again_only_after_its_backoff(tmp_path: Path) -> None:
    clock = ManualClock()
    answers = [503, 200]
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(answers.pop(0))

    store = MessageStore(Database(tmp_path / "mailbox.sqlite3"), clock=clock)
    message = store.send(to="dana", subject="Budget", body="Approve?", callback_url=CALLBACK)
    replied = store.reply(message.id, reply="yes", reply_from=None)
    assert replied.replied_at is not None and replied.replied_at.timestamp() == clock.now

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as client:
            deliverer = Deliverer(
                store,
                client,
                allowed=parse_origins("http://receiver.test"),
                initial_backoff=10.0,
                max_backoff=60.0,
                clock=clock,
            )
            assert await deliverer.deliver_due() == 1  # answered 503: retried later
            pending = store.get(message.id).delivery
            assert pending is not None and pending.state == "pending" and pending.attempts == 1
            assert 5.0 <= pending.next_attempt_at - clock.now <= 10.0  # the first backoff, jittered down
            assert await deliverer.deliver_due() == 0  # not due yet: nothing is sent
            clock.now = pending.next_attempt_at
            assert await deliverer.deliver_due() == 1

    asyncio.run(scenario())
    delivered = store.get(message.id).delivery
    assert delivered is not None and delivered.state == "delivered" and delivered.attempts == 2
    assert len(received) == 2
    assert received[0].headers["Idempotency-Key"] == received[1].headers["Idempotency-Key"]
