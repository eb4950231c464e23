"""Runs in flight while the mesh moves: a killed host back on new ports, a tool that moves, one that stays down."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.local_mesh import Mesh, start_mesh
from tests.support.mesh_cli import toolmesh
from tests.support.servers import REPO_ROOT, free_port

NOTES_URL = "${NOTES_URL:-http://127.0.0.1:8101}"
CALC_URL = "${CALC_URL:-http://127.0.0.1:8103}"


def _calls(report: dict[str, Any], function: str) -> list[dict[str, Any]]:
    return [call for task in report["tasks"] for call in task["tool_calls"] if call["function"] == function]


def _approval(view: dict[str, Any]) -> str | None:
    approvals = (view.get("progress") or {}).get("approvals") or []
    return str(approvals[0]["call_id"]) if approvals else None


@pytest.mark.slow
def test_an_approval_survives_a_killed_host_and_its_call_reaches_the_tool_at_its_new_address(tmp_path: Path) -> None:
    state_dir = tmp_path / ".toolmesh"
    up = toolmesh(state_dir, "up", "--port", str(free_port()), "--auto-ports", "--tool", "notes", "--json")
    assert up.code == 0, up.stdout + up.stderr
    try:
        before = {item["name"]: item for item in up.json()["services"]}
        objective = "Create a note titled groceries with milk and eggs"
        run_args = ["run", objective, "--approval", "createNote=always", "--max-iterations", "2", "--detach", "--json"]
        started = toolmesh(state_dir, *run_args, url=before["host"]["url"])
        assert started.code == 0, started.stdout + started.stderr
        run_id = started.json()["id"]
        call_id = _wait_for_approval(state_dir, before["host"]["url"], run_id)

        os.kill(before["host"]["pid"], signal.SIGKILL)
        moved_at = time.monotonic()
        assert toolmesh(state_dir, "down").code == 0
        again = toolmesh(state_dir, "up", "--port", str(free_port()), "--auto-ports", "--tool", "notes", "--json")
        assert again.code == 0, again.stdout + again.stderr
        took = time.monotonic() - moved_at
        after = {item["name"]: item for item in again.json()["services"]}
        assert all(after[name]["port"] != before[name]["port"] for name in after), (before, after)
        assert took < 90, f"the mesh took {took:.0f} s to come back"

        host = after["host"]["url"]
        assert toolmesh(state_dir, "approve", run_id, call_id, url=host).code == 0
        final = toolmesh(state_dir, "show", run_id, "--follow", "--json", "--interval", "0.5", url=host)
        assert final.code == 0, final.stdout + final.stderr
        report = final.json()["output"]
        assert report["outcome"] == "completed", report
        [created] = _calls(report, "createNote")
        assert created["ok"] is True and created["base_url"] == after["notes"]["url"]
        keys = json.loads((state_dir / "secrets.json").read_text())
        listed = httpx.get(
            f"{after['notes']['url']}/notes",
            params={"run_id": run_id, "limit": 100},
            headers={"X-API-Key": keys["NOTES_API_KEY"]},
        )
        titles = Counter(note["title"] for note in listed.json()["items"])
        assert titles["groceries with milk and eggs"] == 1, titles
    finally:
        toolmesh(state_dir, "down")


def _wait_for_approval(state_dir: Path, url: str, run_id: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = toolmesh(state_dir, "show", run_id, "--json", url=url).json()
        call_id = _approval(view)
        if call_id:
            return call_id
        assert view["status"] not in ("Completed", "Failed", "Terminated"), view
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} never asked for an approval")


@pytest.fixture(scope="module")
def moving_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mesh, Path]]:
    root = tmp_path_factory.mktemp("moving")
    registry = root / "specs" / "registry.yaml"
    registry.parent.mkdir()
    registry.write_text((REPO_ROOT / "specs" / "registry.yaml").read_text())
    mesh = start_mesh(root, registry=registry)
    try:
        yield mesh, registry
    finally:
        mesh.stop()


@pytest.mark.slow
def test_a_tool_started_on_another_port_is_reached_by_the_calls_of_a_run_in_flight(
    moving_mesh: tuple[Mesh, Path],
) -> None:
    mesh, registry = moving_mesh
    run_id = mesh.start_run(
        {
            "objective": "Create a note titled relocated",
            "approval": {"createNote": "always"},
            "budgets": {"max_iterations": 2},
        }
    )
    view = mesh.wait(run_id, until=lambda v: _approval(v) is not None)
    call_id = _approval(view)
    mesh.services["notes"].stop()
    moved = mesh.start_service("notes", port=free_port())
    registry.write_text(registry.read_text().replace(NOTES_URL, moved.url))
    with mesh.api() as api:
        assert api.post(f"/api/runs/{run_id}/approvals/{call_id}", json={"approve": True}).status_code == 202
    report = mesh.wait(run_id)["output"]
    assert report["outcome"] == "completed", report
    [created] = _calls(report, "createNote")
    assert created["ok"] is True and created["base_url"] == moved.url
    with mesh.tool("notes") as notes:
        items = notes.get("/notes", params={"run_id": run_id, "limit": 100}).json()["items"]
    titles = Counter(note["title"] for note in items)
    assert titles["relocated"] == 1 and sum(1 for t in titles if t.startswith("Task ")) == len(report["tasks"])


@pytest.mark.slow
def test_a_tool_that_stays_down_fails_its_task_and_the_outcome_says_so(moving_mesh: tuple[Mesh, Path]) -> None:
    mesh, _ = moving_mesh
    mesh.services["calc"].stop()
    run_id = mesh.start_run(
        {
            "objective": "Calculate 12 * 49.90 for the licence budget.",
            "options": {"retry_first_seconds": 1, "retry_max_seconds": 2, "retry_limit_seconds": 6},
        }
    )
    report = mesh.wait(run_id)["output"]
    assert report["outcome"] == "completed_with_failures", report
    [task] = report["tasks"]
    assert task["failures"] and task["failures"][0].startswith("evaluateExpression: could not reach the service")
    assert _calls(report, "evaluateExpression")[0]["ok"] is False
