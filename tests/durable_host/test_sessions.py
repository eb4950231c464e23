"""Orchestrator sessions: episodes resume the kept SDK state and commit what a full replay would.

``test_history_shapes.py`` runs every history shape both ways and compares each commit; here:
the cache's rules, a long mixed orchestration resumed episode after episode, and a real host
process with sessions on and off, stopped and started again in the middle of a run.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import pytest
from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext
from azure.durable_functions.models.TaskOrchestrationExecutor import TaskOrchestrationExecutor

from durable_host import sessions
from durable_host.discovery import ActivityFunction, FunctionIndex
from durable_host.engine import Engine
from durable_host.sessions import Session, SessionCache
from durable_host.store import ActivityRow, EpisodeCommit, RuntimeStatus, Store
from tests.durable_host.conftest import MGMT, Host, launch_host
from tests.durable_host.test_history_shapes import Sim
from tests.support.clock import ManualClock


def _session(execution_id: str = "e1", seen: int = 3) -> Session:
    return Session(execution_id, TaskOrchestrationExecutor(), object.__new__(DurableOrchestrationContext), seen=seen)


def test_the_pinned_sdk_can_be_resumed() -> None:
    assert sessions.resumable()


def test_a_session_is_taken_once_and_only_for_its_execution_and_history() -> None:
    cache = SessionCache()
    kept = _session()
    cache.put("a", kept)
    assert cache.take("a", "e1", 3) is kept
    assert cache.take("a", "e1", 3) is None  # taken: an episode owns it until it is put back
    cache.put("a", kept)
    assert cache.take("a", "e2", 3) is None  # another execution (continue_as_new) starts afresh
    cache.put("a", kept)
    assert cache.take("a", "e1", 2) is None  # a shorter history than it has seen: not this one
    assert len(cache) == 0


def test_the_least_recently_used_sessions_go_first_beyond_the_limit() -> None:
    cache = SessionCache(max_sessions=2)
    first, second, third = _session(), _session(), _session()
    cache.put("a", first)
    cache.put("b", second)
    cache.put("a", cache.take("a", "e1", 3) or first)  # "a" used again: "b" is now the oldest
    cache.put("c", third)
    assert len(cache) == 2
    assert cache.take("b", "e1", 3) is None
    assert cache.take("a", "e1", 3) is first and cache.take("c", "e1", 3) is third


def test_idle_sessions_are_evicted_and_their_expiry_is_known() -> None:
    clock = ManualClock(100.0)
    cache = SessionCache(idle_seconds=30, clock=clock)
    assert cache.next_expiry() is None
    cache.put("a", _session())
    clock.now = 110.0
    cache.put("b", _session())
    assert cache.next_expiry() == 130.0
    cache.evict(129.9)
    assert len(cache) == 2
    cache.evict(130.0)
    assert len(cache) == 1 and cache.next_expiry() == 140.0


def test_a_limit_of_zero_keeps_nothing() -> None:
    cache = SessionCache(max_sessions=0)
    assert not cache.enabled
    cache.put("a", _session())
    assert len(cache) == 0


def test_a_handle_without_an_orchestrator_function_replays_without_a_session() -> None:
    def handle(context: Any) -> str:
        return json.dumps({"isDone": True, "actions": [], "output": "plain", "error": None, "customStatus": None})

    reply, session = sessions.start(handle, "{}", "e1")
    assert session is None and json.loads(reply.text or "{}")["output"] == "plain"


def test_a_long_mixed_orchestration_resumes_every_episode_after_the_first() -> None:
    """Sequence, fan-out, timers, a raced event, a caught failure, custom status and new_uuid."""
    ids: list[str] = []

    def orch(context: Any) -> Any:
        total = 0
        for step in range(12):
            total += yield context.call_activity("add", step)
            context.set_custom_status({"step": step, "total": total})
        ids.append(context.new_uuid())
        both = yield context.task_all([context.call_activity("add", 100), context.call_activity("add", 200)])
        yield context.create_timer(context.current_utc_datetime)
        approval = context.wait_for_external_event("Approval")
        timeout = context.create_timer(context.current_utc_datetime.replace(year=2100))
        winner = yield context.task_any([approval, timeout])
        try:
            yield context.call_activity("explode", None)
        except Exception as exc:  # noqa: BLE001 - the activity's failure is the point
            caught = str(exc).split("\n")[0]
        return {"total": total + sum(both), "approved": winner == approval, "caught": caught, "uuid": ids[-1]}

    sim = Sim.start(orch)
    sim.with_sessions = True
    sim.step()
    for task_id in range(12):
        sim.complete(task_id, task_id)
        sim.step()
    sim.complete(12, 100)
    sim.complete(13, 200)
    sim.step()
    sim.step(1)  # the zero-length timer fires
    sim.raise_event("Approval", json.dumps(True))
    sim.step()
    sim.fail(sim.activities[-1].task_id, "boom")
    sim.step()
    assert sim.instance.status is RuntimeStatus.COMPLETED
    output = json.loads(sim.instance.output or "null")
    assert output["total"] == sum(range(12)) + 300 and output["approved"] is True
    assert output["caught"].startswith("boom")
    # every episode but the first ran on the session, and its commit matched a full replay's
    episodes = 1 + 12 + 1 + 1 + 1 + 1
    assert sim.resumed == episodes - 1


# ---- a real host process ------------------------------------------------------------------


def _counted(host: Host, steps: int) -> dict[str, Any]:
    status = host.wait(host.start("counted_steps", {"steps": steps}))
    assert status["runtimeStatus"] == "Completed", status
    return dict(status["output"])


@pytest.fixture
def host_without_sessions(tmp_path: Path) -> Iterator[Host]:
    running = launch_host("basic", tmp_path / "data", tmp_path / "marks", env={"TOOLMESH_ORCHESTRATOR_SESSIONS": "0"})
    yield running
    running.stop()


def test_the_host_resumes_sessions_and_rebuilds_only_on_the_first_episode(host: Host) -> None:
    assert _counted(host, 20) == {"total": sum(range(20)), "starts": 1}


def test_without_sessions_the_host_replays_every_episode(host_without_sessions: Host) -> None:
    # the starts counted before the last step is scheduled: the first episode and one per step
    assert _counted(host_without_sessions, 20) == {"total": sum(range(20)), "starts": 21}


def test_histories_are_the_same_with_and_without_sessions(host: Host, host_without_sessions: Host) -> None:
    def shape(on: Host) -> list[tuple[str, Any, Any]]:
        instance_id = on.start("mixed", {"run": "shape"})
        on.wait(instance_id, statuses={"Running"})
        with on.client() as client:
            assert client.post(f"{MGMT}/instances/{instance_id}/raiseEvent/Go", json="yes").status_code == 202
        status = on.wait(instance_id)
        assert status["runtimeStatus"] == "Completed", status
        events = on.status(instance_id, showHistory="true", showHistoryOutput="true")["historyEvents"]
        return [(e["EventType"], e.get("Name"), e.get("Result")) for e in events]

    assert shape(host) == shape(host_without_sessions)


def test_a_restart_in_the_middle_of_a_run_rebuilds_it_from_the_history(tmp_path: Path) -> None:
    host = launch_host("basic", tmp_path / "data", tmp_path / "marks")
    try:
        instance_id = host.start("counted_steps", {"steps": 5, "wait": True})
        host.wait(instance_id, statuses={"Running"})
        _wait_for_steps(host, instance_id, 5)
    finally:
        host.stop()
    host = launch_host("basic", tmp_path / "data", tmp_path / "marks")
    try:
        with host.client() as client:
            assert client.post(f"{MGMT}/instances/{instance_id}/raiseEvent/Go", json=100).status_code == 202
        status = host.wait(instance_id)
    finally:
        host.stop()
    # the new process had no session: one full replay rebuilt the run, which then went on from it
    assert status["output"] == {"total": sum(range(5)) + 100, "starts": 1}


def _wait_for_steps(host: Host, instance_id: str, steps: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = host.status(instance_id, showHistory="true")["historyEvents"]
        if sum(e["EventType"] == "TaskCompleted" for e in events) == steps:
            return
        time.sleep(0.05)
    raise AssertionError(f"{instance_id} did not finish {steps} steps")


# ---- the engine in this process: a commit that fails after a session episode --------------


class _FailingOnce(Store):
    """A store whose third episode commit fails, as a full disk or a lost database would."""

    commits = 0

    def commit_episode(self, commit: EpisodeCommit) -> list[ActivityRow]:
        type(self).commits += 1
        if type(self).commits == 3:
            raise sqlite3.OperationalError("disk I/O error")
        return super().commit_episode(commit)


async def test_a_failed_commit_drops_the_session_and_the_retry_replays_in_full(tmp_path: Path) -> None:
    starts: list[int] = []

    def orch(context: Any) -> Any:
        starts.append(1)
        total = 0
        for n in range(4):
            total += yield context.call_activity("double", n)
        return total

    functions = FunctionIndex(
        orchestrators={"orch": df.Orchestrator.create(orch)},
        activities={"double": ActivityFunction(name="double", fn=lambda value: 2 * value, param="value")},
        http=[],
        route_prefix="api",
        hub_name="test",
    )
    engine = Engine(_FailingOnce(tmp_path / "durable.sqlite3"), functions, activity_concurrency=4)
    engine.start()
    try:
        engine.start_new("orch", "i1", None)
        row = await engine.wait_finished("i1", timeout=30)
    finally:
        await engine.stop()
        engine.store.close()
    assert row is not None and row.status is RuntimeStatus.COMPLETED
    assert json.loads(row.output or "null") == 2 * sum(range(4))
    # the first episode and the full replay after the failed commit: its session was not reused
    assert len(starts) == 2
