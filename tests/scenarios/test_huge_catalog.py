"""A spec of 10,000 operations in the registry: runs keep their history small, the host stays responsive.

The same short run, on a mesh whose registry holds the four tools plus one huge spec, and on the
same mesh with the registry as shipped: the run's history (as the host stores it) may not grow
with the operations it never uses. While the huge catalog is converted and stored, the host's
health endpoint keeps answering.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.local_mesh import Mesh, start_mesh
from tests.support.servers import REPO_ROOT

OPERATIONS = 10_000
RUN = {"objective": "Work out a sum", "initial_tasks": ["Calculate 2 + 3"]}


def _huge_spec(path: Path) -> int:
    paths = {
        f"/items{i}/{{id}}": {
            "get": {
                "operationId": f"getItem{i}",
                "summary": f"Read item {i} of the inventory by its id",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "ok"}},
            }
        }
        for i in range(OPERATIONS)
    }
    text = json.dumps({"openapi": "3.0.0", "info": {"title": "inventory", "version": "1"}, "paths": paths})
    path.write_text(text)
    return len(text)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    root = tmp_path_factory.mktemp("huge-catalog")
    env = {"TOOLMESH_CATALOG_DIR": str(root / "catalogs")}
    running = start_mesh(root, registry=_registry(root, huge=False), host_env=env)
    try:
        yield running
    finally:
        running.stop()


def _registry(root: Path, *, huge: bool) -> Path:
    registry = yaml.safe_load((REPO_ROOT / "specs" / "registry.yaml").read_text())
    if huge:
        _huge_spec(root / "inventory.json")
        registry["tools"]["inventory"] = {"spec": str(root / "inventory.json"), "base_url": "http://127.0.0.1:9"}
    path = root / "registry.yaml"
    path.write_text(yaml.safe_dump(registry))
    return path


def _history_bytes(mesh: Mesh, run_id: str) -> int:
    """The run's history as the host stores it: every event of every execution."""
    with sqlite3.connect(f"file:{mesh.root / 'host' / 'durable.sqlite3'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT event FROM history WHERE instance_id = ?", (run_id,)).fetchall()
    return sum(len(row[0]) for row in rows)


def _finished_run(mesh: Mesh) -> tuple[str, dict[str, Any]]:
    run_id = mesh.start_run(RUN)
    view = mesh.wait(run_id, timeout=240)
    assert view["output"]["outcome"] == "completed", view["output"]
    return run_id, view


def test_a_huge_spec_in_the_registry_does_not_grow_the_history_of_runs(mesh: Mesh) -> None:
    small_id, _ = _finished_run(mesh)
    small = _history_bytes(mesh, small_id)

    _registry(mesh.root, huge=True)
    with mesh.api(timeout=300) as api:
        assert "inventory" in {tool["name"] for tool in api.post("/api/tools/reload").json()["tools"]}

    answered: list[float] = []
    stop = threading.Event()

    def poll_health() -> None:
        with httpx.Client(base_url=mesh.url, timeout=60) as client:
            while not stop.is_set():
                if client.get("/healthz").status_code == 200:
                    answered.append(time.monotonic())
                time.sleep(0.05)

    poller = threading.Thread(target=poll_health)
    poller.start()
    try:
        huge_id, view = _finished_run(mesh)
    finally:
        stop.set()
        poller.join()
    huge = _history_bytes(mesh, huge_id)
    gaps = [later - earlier for earlier, later in zip(answered, answered[1:], strict=False)]
    print(f"history: {small} bytes without the huge spec, {huge} with it")
    print(f"health: {len(answered)} answers during the run, longest gap {max(gaps, default=0):.2f} s")
    [stored] = (mesh.root / "catalogs").glob("*.json")
    snapshot = stored.stat().st_size
    print(f"catalog snapshot: {snapshot} bytes")

    # The task was offered a selection from the 10,000 functions, and the run kept only that:
    # the snapshot, which the history used to hold, stays outside it, stored once, owner-only.
    assert view["output"]["tasks"][0]["selected_tools"], view["output"]["tasks"]
    assert huge < 2 * small, (small, huge)
    assert huge < snapshot / 4, (huge, snapshot)
    assert stored.stat().st_mode & 0o077 == 0
    # The catalog was read and stored while the run went on: the health endpoint answered meanwhile.
    assert len(answered) >= 3, answered
