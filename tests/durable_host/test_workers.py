"""Activity worker processes: activities run beside the host and give the events they give in it.

Real host processes with ``TOOLMESH_ACTIVITY_WORKERS`` set: where activities run, payloads larger
than a pipe's buffer, a worker killed in the middle of an activity, and workers that leave with
their host. The pool itself is also driven directly against the test app.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from durable_host.discovery import load_app
from durable_host.invoke import run_activity
from durable_host.workers import WorkerPool
from tests.durable_host.conftest import APPS, Host, launch_host
from tests.support.servers import child_pids
from tests.support.waiting import wait_until

pytestmark = pytest.mark.skipif(os.name != "posix", reason="activity workers need POSIX fd passing")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _launch(tmp_path: Path, workers: int) -> Host:
    return launch_host("basic", tmp_path / "data", tmp_path / "marks", env={"TOOLMESH_ACTIVITY_WORKERS": str(workers)})


@pytest.fixture
def worker_host(tmp_path: Path) -> Iterator[Host]:
    running = _launch(tmp_path, 1)
    yield running
    running.stop()


def test_activities_run_in_the_worker_and_orchestrations_in_the_host(worker_host: Host) -> None:
    host_pid = worker_host.server.process.pid
    status = worker_host.wait(worker_host.start("worker_lost", 0))
    assert status["runtimeStatus"] == "Completed", status
    output = status["output"]
    assert output["outcome"] == "slept 0"
    assert output["first"] == output["second"] != host_pid
    assert output["first"] in child_pids(host_pid)
    # sync, async and failing activities through the worker, as in the host itself
    for name, payload, expected in (
        ("hello_sequence", None, ["Hello Tokyo", "Hello Seattle", "Hello London"]),
        ("fan_out", 4, 12),
    ):
        done = worker_host.wait(worker_host.start(name, payload))
        assert (done["runtimeStatus"], done["output"]) == ("Completed", expected)
    caught = worker_host.wait(worker_host.start("catch_failure"))
    assert caught["runtimeStatus"] == "Completed", caught


def test_without_workers_activities_run_in_the_host(tmp_path: Path) -> None:
    host = _launch(tmp_path, 0)
    try:
        status = host.wait(host.start("worker_lost", 0))
        assert status["output"]["first"] == host.server.process.pid
        assert not child_pids(host.server.process.pid)
    finally:
        host.stop()


def test_payloads_far_larger_than_a_socket_buffer_go_through_whole(worker_host: Host) -> None:
    big = {"text": "x" * 3_000_000, "items": list(range(50_000)), "unicode": "é✓" * 1000}
    status = worker_host.wait(worker_host.start("echo_through_activity", big), timeout=60)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == big


def test_a_worker_killed_mid_activity_fails_that_activity_and_is_replaced(worker_host: Host) -> None:
    host_pid = worker_host.server.process.pid
    instance_id = worker_host.start("worker_lost", 60)

    def first_done() -> bool:
        events = worker_host.status(instance_id, showHistory="true").get("historyEvents") or []
        return any(e["EventType"] == "TaskCompleted" and e.get("FunctionName") == "process_id" for e in events)

    wait_until(first_done)
    (worker,) = child_pids(host_pid)
    sleeping = worker_host.marks_dir / "sleeping"
    wait_until(lambda: sleeping.exists() and str(worker) in sleeping.read_text().split(), what="the long activity runs")
    os.kill(worker, signal.SIGKILL)
    status = worker_host.wait(instance_id, timeout=30)
    assert status["runtimeStatus"] == "Completed", status
    output = status["output"]
    assert output["first"] == worker
    assert "worker process" in output["outcome"] and "exited with code -9" in output["outcome"]
    assert output["second"] not in (worker, host_pid)
    assert output["second"] in child_pids(host_pid)


def test_a_worker_that_cannot_start_fails_activities_with_a_clear_reason(tmp_path: Path) -> None:
    host = launch_host(
        "basic",
        tmp_path / "data",
        tmp_path / "marks",
        env={"TOOLMESH_ACTIVITY_WORKERS": "1", "BASIC_APP_BROKEN_IN_WORKERS": "1"},
    )
    try:
        status = host.wait(host.start("catch_failure"), timeout=30)
        assert status["runtimeStatus"] == "Completed"
        assert "caught: " in status["output"] and "worker process" in status["output"]
        assert "exited with code 1" in status["output"]
        with host.client() as client:
            assert client.get("/healthz").status_code == 200  # the host itself keeps serving
    finally:
        host.stop()
    log = next(tmp_path.glob("host-basic-*.log")).read_text()
    assert "cannot be imported by an activity worker" in log
    assert "starting another" in log


def test_workers_leave_with_their_host_even_when_it_is_killed(tmp_path: Path) -> None:
    host = _launch(tmp_path, 2)
    try:
        assert host.wait(host.start("worker_lost", 0))["runtimeStatus"] == "Completed"
        workers = child_pids(host.server.process.pid)
        assert len(workers) == 2
        host.server.process.send_signal(signal.SIGKILL)
        host.server.process.wait(10)
        wait_until(lambda: not any(_alive(pid) for pid in workers))
    finally:
        host.stop()


def test_a_negative_worker_count_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as raised:
        _launch(tmp_path, -1)
    log = next((tmp_path).glob("host-basic-*.log")).read_text()
    assert "TOOLMESH_* environment setting" in log and "activity_workers" in log, (raised.value, log)


def test_the_pool_gives_the_events_the_host_itself_would_give(tmp_path: Path) -> None:
    os.environ.setdefault("CONFORMANCE_MARKS_DIR", str(tmp_path))
    functions = load_app(APPS / "basic")

    async def both(name: str, payload: object) -> tuple[dict[str, object], dict[str, object]]:
        pool = WorkerPool(APPS / "basic", 1, concurrency=4)
        await pool.start()
        try:
            remote = await pool.run(name, json.dumps(payload), 7)
        finally:
            await pool.stop()
        async with httpx.AsyncClient() as http:
            local = await run_activity(functions.activities, name, json.dumps(payload), 7, ThreadPoolExecutor(1), http)
        return remote, local

    for name, payload in (("hello", "Oslo"), ("double_async", 21), ("fail", "no"), ("missing", None)):
        remote, local = asyncio.run(both(name, payload))
        remote.pop("Timestamp"), local.pop("Timestamp")
        if name == "fail":  # the traceback's file paths are the same; only the frames' timing differs
            assert remote["Reason"] == local["Reason"] == "Activity function 'fail' failed: no"
            assert "ValueError: no" in str(remote["Details"])
            remote.pop("Details"), local.pop("Details")
        assert remote == local, name
