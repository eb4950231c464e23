"""The engine reads the time from its clock: a durable timer an hour away fires when the test moves the clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.durable_functions as df

from durable_host.clock import HostClock
from durable_host.discovery import FunctionIndex
from durable_host.engine import Engine
from durable_host.history import EventType
from durable_host.store import RuntimeStatus, Store
from tests.support.clock import ManualClock
from tests.support.waiting import wait_until_async

HOUR = 3600.0


def _sleeper(context: Any) -> Any:
    yield context.create_timer(context.current_utc_datetime + timedelta(hours=1))
    return context.current_utc_datetime.isoformat()


async def test_a_timer_fires_when_the_clock_reaches_it(tmp_path: Path) -> None:
    wall = ManualClock()
    started = datetime.fromtimestamp(wall.now, UTC)
    functions = FunctionIndex(
        orchestrators={"sleeper": df.Orchestrator.create(_sleeper)},
        activities={},
        http=[],
        route_prefix="api",
        hub_name="test",
    )
    engine = Engine(Store(tmp_path / "durable.sqlite3"), functions, activity_concurrency=1, clock=HostClock(wall=wall))
    engine.start()
    try:
        engine.start_new("sleeper", "s1", None)

        def timer_created() -> bool:
            events = [json.loads(text) for text in engine.history_events("s1")]
            return any(e["EventType"] == EventType.TIMER_CREATED for e in events)

        await wait_until_async(timer_created, what="the orchestration created its timer")
        assert engine.get("s1").status is RuntimeStatus.RUNNING
        wall.now += HOUR
        engine.wake()
        row = await engine.wait_finished("s1", timeout=30)
    finally:
        await engine.stop()
        engine.store.close()
    assert row is not None and row.status is RuntimeStatus.COMPLETED
    # the episode after the timer ran at the clock's time, an hour after the start
    assert datetime.fromisoformat(json.loads(row.output or "null")) == started + timedelta(hours=1)
