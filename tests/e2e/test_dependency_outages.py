"""Dependencies that go away for a while under runs in flight: the gateway, then the notes service.

Twenty runs are started on the whole mesh; one dependency is killed (SIGKILL) while they run and
started again on its port 10 s later, with its data. Every run must complete as if nothing had
happened: no run fails, every finished task has its memory note, and nothing is written twice.
The runs wait on durable timers meanwhile (short ones here: the run options set them), which their
progress shows as ``retrying``, and their reports say which dependency they waited for.
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
        }
        for i in range(RUNS)
    ]
    with mesh.api() as api, ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda body: mesh.start_run(body, api), bodies))


def _views(mesh: Mesh, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    with mesh.api() as api:
        return {run_id: api.get(f"/api/runs/{run_id}").json() for run_id in run_ids}


def _outage(mesh: Mesh, service: str, run_ids: list[str], kinds: set[str]) -> None:
    """Kill ``service`` once the runs are under way, start it again 10 s later, or once a run waits for it.

    On a busy machine the runs may not reach the dependency within 10 s; the outage lasts until
    one of them shows that it waits for it (``retrying`` of one of ``kinds`` in its progress).
    """
    mesh.wait(run_ids[0], until=lambda view: bool((view.get("progress") or {}).get("done")), timeout=180)
    in_flight = [run_id for run_id, view in _views(mesh, run_ids).items() if view["status"] not in FINISHED]
    assert len(in_flight) >= RUNS // 2, "too few runs were still going when the outage began"
    mesh.services[service].kill()
    killed_at, seen = time.monotonic(), False
    while not seen or time.monotonic() - killed_at < OUTAGE_SECONDS:
        assert time.monotonic() - killed_at < 180, f"no run waited for {service} while it was away"
        views = _views(mesh, in_flight).values()
        retrying = [entry for view in views for entry in (view.get("progress") or {}).get("retrying") or []]
        seen = seen or any(entry["kind"] in kinds for entry in retrying)
        time.sleep(1.0)
    mesh.start_service(service)


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
