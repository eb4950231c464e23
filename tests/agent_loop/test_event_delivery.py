"""Delivering outside events: no event falls between raising it on listed waits and keeping it.

find_held_event looks for kept events only once the run's wait shows, and deliver_event skips
only runs that ended since the listing (any other failure to raise is retried, then fails).

``POST /api/events`` keeps its event, then raises it on the waits it lists. On Azure Storage a run's
activity message is sent before its status is written, so the activity can start while the wait
does not show yet: an event posted in that gap is neither raised on the wait (the listing missed
it) nor seen by a look that ran before it was kept. These tests play that gap with a fake client.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent_loop import events_api
from agent_loop.outside_events import held_event_prefix, wait_event_name

RUN, WAIT = "run-1-task1-0", "c1-1-0"
NOW = datetime.now(UTC)
EVENT = {
    "event_id": "e1",
    "name": "developer.response",
    "data": {"ticketId": "T-1", "answer": "fixed"},
    "received_at": NOW.isoformat(),
    "keep_until": (NOW + timedelta(hours=1)).isoformat(),
}
HELD_ID = held_event_prefix("developer.response") + "e1"


@dataclass
class Status:
    instance_id: str
    custom_status: Any = None


class Gap:
    """The run's status shows the wait from the third look on; the event is kept at the second."""

    def __init__(self, shows_at: int | None = 3) -> None:
        self.shows_at = shows_at
        self.looks = 0
        self.kept = False
        self.order: list[str] = []

    async def get_status(self, instance_id: str) -> Status:
        assert instance_id == RUN
        self.looks += 1
        self.order.append("status")
        if self.looks >= 2:
            self.kept = True  # POST /api/events kept it now, and its listing did not see the wait
        shown = self.shows_at is not None and self.looks >= self.shows_at
        waits = [{"kind": "event", "wait_id": WAIT, "event": "developer.response"}] if shown else []
        return Status(instance_id, custom_status={"phase": "waiting", "waiting": waits})

    async def all_instances(
        self, client: Any, *, runtime_status: list[str], prefix: str | None = None, show_input: bool = False
    ) -> list[Any]:
        self.order.append("list")
        assert prefix == held_event_prefix("developer.response") and show_input
        return [{"instanceId": HELD_ID, "createdTime": NOW.isoformat(), "input": EVENT}] if self.kept else []


def _look(gap: Gap, **extra: Any) -> Any:
    find = events_api.find_held_event._function.get_user_function().__wrapped__
    payload = {"name": "developer.response", "match": {"ticketId": "T-1"}, "seen": [], **extra}
    return find(payload, client=gap)


async def test_the_look_waits_for_the_wait_to_show_then_finds_an_event_kept_in_the_gap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gap = Gap()
    monkeypatch.setattr(events_api, "all_instances", gap.all_instances)
    event = await _look(gap, instance_id=RUN, wait_id=WAIT)
    assert event == EVENT
    assert gap.order == ["status", "status", "status", "list"]


async def test_a_wait_that_never_shows_is_looked_for_after_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    gap = Gap(shows_at=None)
    monkeypatch.setattr(events_api, "all_instances", gap.all_instances)
    monkeypatch.setattr(events_api, "VISIBLE_WAIT_SECONDS", 0.1)
    assert await _look(gap, instance_id=RUN, wait_id=WAIT) == EVENT
    assert gap.order[-1] == "list" and gap.order.count("list") == 1


async def test_an_event_the_run_took_is_not_found_again(monkeypatch: pytest.MonkeyPatch) -> None:
    gap = Gap()
    monkeypatch.setattr(events_api, "all_instances", gap.all_instances)
    assert await _look(gap, instance_id=RUN, wait_id=WAIT, seen=["e1"]) is None


class Delivery:
    """A waiting run whose raise_event fails ``failures`` times; ``ended`` says it finished since the listing."""

    def __init__(self, failures: int, ended: bool = False) -> None:
        self.failures, self.ended = failures, ended
        self.raised: list[tuple[str, str]] = []

    async def all_instances(self, client: Any, *, runtime_status: list[str], prefix: str | None = None) -> list[Any]:
        waits = [{"kind": "event", "wait_id": WAIT, "event": "developer.response", "match": {"ticketId": "T-1"}}]
        other = [{"kind": "event", "wait_id": WAIT, "event": "developer.response", "match": {"ticketId": "T-2"}}]
        return [
            {"instanceId": RUN, "customStatus": {"waiting": waits}},
            {"instanceId": "run-2", "customStatus": {"waiting": other}},
        ]

    async def raise_event(self, instance_id: str, name: str, data: Any) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise Exception("Webhook returned unrecognized status code 500")
        self.raised.append((instance_id, name))

    async def get_status(self, instance_id: str) -> Any:
        class Runtime:
            value = "Completed" if self.ended else "Running"

        return type("Status", (), {"runtime_status": Runtime()})()


async def test_a_failed_raise_is_tried_again_and_reaches_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    client = Delivery(failures=1)
    monkeypatch.setattr(events_api, "all_instances", client.all_instances)
    monkeypatch.setattr(events_api, "RAISE_PAUSE_SECONDS", 0.0)
    reached = await events_api.deliver_event(client, EVENT)
    assert reached == [{"run_id": RUN, "wait_id": WAIT}]
    assert client.raised == [(RUN, wait_event_name(WAIT))]  # the run waiting on T-2 got nothing


async def test_a_run_that_ended_since_the_listing_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    client = Delivery(failures=1, ended=True)
    monkeypatch.setattr(events_api, "all_instances", client.all_instances)
    assert await events_api.deliver_event(client, EVENT) == []


async def test_a_running_run_that_cannot_get_the_event_fails_the_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    client = Delivery(failures=events_api.RAISE_ATTEMPTS)
    monkeypatch.setattr(events_api, "all_instances", client.all_instances)
    monkeypatch.setattr(events_api, "RAISE_PAUSE_SECONDS", 0.0)
    with pytest.raises(Exception, match="500"):
        await events_api.deliver_event(client, EVENT)
