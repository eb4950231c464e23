"""Crash tests: SIGKILL the host at random points of a mixed workload, restart, lose nothing.

The workload mixes sequential activities, fan-out, timers, external events (raised while
the host may be down between restarts) and continue_as_new. Every instance must end with
the output an uninterrupted run gives; activities may run more than once (at least once).
"""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from durable_host.history import parse_time
from tests.durable_host.conftest import MGMT, Host, launch_host
from tests.support.waiting import wait_until

RUNS = 6
KILLS = int(os.environ.get("CRASH_KILLS", "8"))


def _expected_mixed(run: str) -> dict[str, object]:
    return {"sums": [20, 20, 20], "approval": {"run": run}}


def _raise_with_retries(host_url: str, headers: dict[str, str], instance_id: str, payload: object) -> None:
    for _ in range(200):
        try:
            response = httpx.post(
                f"{host_url}{MGMT}/instances/{instance_id}/raiseEvent/Go", json=payload, headers=headers
            )
            if response.status_code == 202:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"could not raise the event for {instance_id}")


def test_sigkill_at_random_points_loses_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("CRASH_SEED", str(random.randrange(1_000_000))))
    rng = random.Random(seed)
    data, marks = tmp_path / "data", tmp_path / "marks"
    host = launch_host("basic", data, marks)
    port = host.server.port
    runs = [f"run-{n}" for n in range(RUNS)]
    sequences = [f"seq-{n}" for n in range(2)]
    try:
        for run in runs:
            host.start("mixed", {"run": run}, instance_id=run)
        for seq in sequences:
            host.start("sequence_n", 40, instance_id=seq)
        host.start("fan_out", 50, instance_id="fan-1")
        pending_events = list(runs)
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.05, 0.7))
            if pending_events and rng.random() < 0.6:
                run = pending_events.pop()
                with host.client() as client:
                    assert client.post(f"{MGMT}/instances/{run}/raiseEvent/Go", json={"run": run}).status_code == 202
            host.server.kill()
            host = launch_host("basic", data, marks, port=port)
        headers = {"x-functions-key": "test-functions-key"}
        for run in pending_events:
            _raise_with_retries(host.url, headers, run, {"run": run})
        for run in runs:
            status = host.wait(run, timeout=60)
            assert status["runtimeStatus"] == "Completed", (seed, status)
            assert status["output"] == _expected_mixed(run), (seed, status)
            finals = [line for line in (marks / f"record-{run}").read_text().splitlines() if "final" in line]
            assert len(finals) >= 1, seed
        for seq in sequences:
            assert host.wait(seq, timeout=60)["output"] == 40, seed
        assert host.wait("fan-1", timeout=60)["output"] == sum(2 * n for n in range(50)), seed
    finally:
        host.stop()


def test_timer_due_while_host_is_down_fires_after_restart(tmp_path: Path) -> None:
    data, marks = tmp_path / "data", tmp_path / "marks"
    host: Host = launch_host("basic", data, marks)
    port = host.server.port
    instance_id = host.start("timer_then_done", 1)
    host.wait(instance_id, statuses={"Running"})
    history = host.status(instance_id, showHistory="true")["historyEvents"]
    fire_at = parse_time(next(e["FireAt"] for e in history if e["EventType"] == "TimerCreated"))
    host.server.kill()
    wait_until(lambda: datetime.now(UTC) > fire_at, timeout=30, what="the timer is due")
    host = launch_host("basic", data, marks, port=port)
    try:
        assert host.wait(instance_id, timeout=20)["output"] == "done"
    finally:
        host.stop()


def test_activity_interrupted_by_crash_runs_again(tmp_path: Path) -> None:
    data, marks = tmp_path / "data", tmp_path / "marks"
    host = launch_host("basic", data, marks)
    port = host.server.port
    instance_id = host.start("slow", 1.5)
    wait_until((marks / "sleeping").exists, what="the activity is running")
    assert host.status(instance_id)["runtimeStatus"] == "Running"
    host.server.kill()
    host = launch_host("basic", data, marks, port=port)
    try:
        assert host.wait(instance_id, timeout=20)["output"] == 1.5
    finally:
        host.stop()


def test_sigterm_shuts_down_gracefully(tmp_path: Path) -> None:
    host = launch_host("basic", tmp_path / "data", tmp_path / "marks")
    host.server.process.terminate()
    # uvicorn re-raises the signal after a clean shutdown, so the exit status names SIGTERM.
    assert host.server.process.wait(15) in (0, -15)
    assert "durable host stopped" in host.server.log()
