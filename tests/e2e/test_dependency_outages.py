"""Dependencies that go away for a while under runs in flight: the gateway, then the notes service.

Twenty runs are started on the whole mesh; one dependency is killed (SIGKILL) while they run and
started again on its port 10 s later, with its data. Every run must complete as if nothing had
happened: no run fails, every finished task has its memory note, and nothing is written twice.
The runs wait on durable timers meanwhile (short ones here: the run options set them), which their
progress shows as ``retrying``, and their reports say which dependency they waited for.

A run of the offline model takes about a second and a half here, faster than any poll could catch
it in the middle. So every ``createNote`` waits for a person's approval: the dependency is killed
once every run waits at its first one, mid-run, and the approvals are then given, so each run goes
on into the outage whatever the machine's speed.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support.local_mesh import FINISHED, Mesh, start_mesh

RUNS = 20
OUTAGE_SECONDS = 10.0
RETRY = {"retry_first_seconds": 1, "retry_max_seconds": 4}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Any:
    running = start_mesh(tmp_path_factory.mktemp("outages"))
    try:
        yield running
    finally:
        running.stop()


def _start_runs(mesh: Mesh, label: str) -> list[str]:
    bodies = [
        {
            "objective": f"Write a note titled {label} {i} alpha. Write a note titled {label} {i} beta.",
            "budgets": {"max_iterations": 3},
            "options": RETRY,
            "approval": {"createNote": "always"},
        }
        for i in range(RUNS)
    ]
    with mesh.api() as api, ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda body: mesh.start_run(body, api), bodies))


def _views(mesh: Mesh, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    with mesh.api() as api:
        return {run_id: api.get(f"/api/runs/{run_id}").json() for run_id in run_ids}


def _approve_waiting(mesh: Mesh, views: dict[str, dict[str, Any]]) -> None:
    """Approve every call the runs wait on."""
    waiting = [
        (run_id, approval["call_id"])
        for run_id, view in views.items()
        for approval in (view.get("progress") or {}).get("approvals") or []
    ]
    with mesh.api() as api:
        for run_id, call_id in waiting:
            answer = api.post(f"/api/runs/{run_id}/approvals/{call_id}", json={"approve": True})
            assert answer.status_code in (202, 409), answer.text  # 409: decided already


def _outage(mesh: Mesh, service: str, run_ids: list[str], kinds: set[str]) -> None:
    """Kill ``service`` once every run waits at an approval, approve, and start it again 10 s later.

    The outage lasts until one of the runs shows that it waits for the service (``retrying`` of one
    of ``kinds`` in its progress), for at least 10 s; approvals asked meanwhile are given as they come.
    """
    for run_id in run_ids:
        mesh.wait(run_id, until=lambda view: bool((view.get("progress") or {}).get("approvals")), timeout=180)
    mesh.services[service].kill()
    killed_at, seen = time.monotonic(), False
    while not seen or time.monotonic() - killed_at < OUTAGE_SECONDS:
        assert time.monotonic() - killed_at < 180, f"no run waited for {service} while it was away"
        views = _views(mesh, run_ids)
        assert any(view["status"] not in FINISHED for view in views.values()), "every run ended during the outage"
        _approve_waiting(mesh, views)
        retrying = [entry for view in views.values() for entry in (view.get("progress") or {}).get("retrying") or []]
        seen = seen or any(entry["kind"] in kinds for entry in retrying)
        time.sleep(1.0)
    mesh.start_service(service)
    deadline = time.monotonic() + 300
    while views := {run_id: view for run_id, view in _views(mesh, run_ids).items() if view["status"] not in FINISHED}:
        assert time.monotonic() < deadline, f"runs still going 300 s after {service} came back: {list(views)}"
        _approve_waiting(mesh, views)
        time.sleep(0.5)


def _waited_for(mesh: Mesh, run_ids: list[str]) -> set[str]:
    """The dependencies the runs' reports say they waited for ("model create_tasks", "memory store_memory")."""
    waited = set()
    for view in _views(mesh, run_ids).values():
        for event in view["output"]["events"]:
            if ": was away; back after" in event:
                waited.add(event.split(":", 1)[0])
    return waited


def _check_completed(mesh: Mesh, run_ids: list[str]) -> None:
    for run_id in run_ids:
        view = mesh.wait(run_id, timeout=300)
        assert view["status"] == "Completed", view
        report = view["output"]
        failures = [(task["task"], task.get("failures")) for task in report["tasks"] if task.get("failures")]
        outcome = (report["outcome"], report["stop_reason"], failures)
        assert report["outcome"] in ("completed", "budget_exhausted"), outcome
        assert not any(task.get("failures") for task in report["tasks"]), report["tasks"]
        with mesh.tool("notes") as notes:
            items = notes.get("/notes", params={"run_id": run_id, "limit": 100}).json()["items"]
        titles = Counter(note["title"] for note in items)
        memory = sorted(title for title in titles if title.startswith("Task "))
        assert memory == sorted(f"Task {t['id']}: {t['task']}" for t in report["tasks"]), (titles, report["tasks"])
        assert set(titles.values()) == {1}, f"a note was written twice: {titles}"
        made = [c for t in report["tasks"] for c in t["tool_calls"] if c["function"] == "createNote" and c["ok"]]
        assert len(titles) == len(memory) + len(made), (titles, made)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_runs_in_flight_wait_for_the_gateway_and_complete(mesh: Mesh) -> None:
    run_ids = _start_runs(mesh, "gateway")
    _outage(mesh, "gateway", run_ids, {"model"})
    _check_completed(mesh, run_ids)
    waited = _waited_for(mesh, run_ids)
    assert any(item.startswith("model ") for item in waited), waited


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_runs_in_flight_wait_for_the_notes_service_and_lose_no_memory(mesh: Mesh) -> None:
    run_ids = _start_runs(mesh, "notes")
    _outage(mesh, "notes", run_ids, {"memory", "tool"})
    _check_completed(mesh, run_ids)
    waited = _waited_for(mesh, run_ids)
    assert waited & {"memory store_memory", "tool createNote"}, waited
