"""GET /api/runs and GET /api/schedules list every run and schedule, past the first page of the durable
instance query (100 instances)."""

from __future__ import annotations

from typing import Any

from tests.support.local_mesh import Mesh
from tests.support.waiting import wait_until

MANAGEMENT = "/runtime/webhooks/durabletask"
RUNS = 130


def _listed(mesh: Mesh, **params: Any) -> dict[str, dict[str, Any]]:
    with mesh.api() as api:
        response = api.get("/api/runs", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return {run["id"]: run for run in response.json()}


def test_the_run_list_follows_the_continuation_token(mesh: Mesh) -> None:
    # Instances of the agent run started straight through the management API, with an input the
    # run rejects at once (so each fails in one episode, without calling the model or a tool).
    ids = [f"listed-{n:03d}" for n in range(RUNS)]
    with mesh.api() as api:
        for n, instance_id in enumerate(ids):
            body = {"objective": f"listed {n}", "budgets": {"max_iterations": 0}}
            response = api.post(f"{MANAGEMENT}/orchestrators/agent_run/{instance_id}", json=body)
            assert response.status_code == 202, response.text

    listed = _listed(mesh)
    assert set(ids) <= set(listed), f"{len(set(ids) - set(listed))} runs missing from the list"
    assert listed["listed-042"]["objective"] == "listed 42"

    def all_failed() -> bool:
        return set(ids) <= set(_listed(mesh, status="Failed"))

    wait_until(all_failed, timeout=120, interval=0.5, what=f"all {RUNS} runs listed as Failed")
    assert not set(ids) & set(_listed(mesh, status="Running,Completed"))
    assert _listed(mesh, status="NoSuchStatus") == {}
    newest = _listed(mesh, limit=3)
    assert len(newest) == 3 and set(newest) <= set(ids)


def test_the_schedule_list_follows_the_continuation_token(mesh: Mesh) -> None:
    ids = [f"listed_{n:03d}" for n in range(RUNS)]
    run = {"objective": "a scheduled run", "initial_tasks": ["Calculate 1 + 1"]}
    with mesh.api() as api:
        for schedule_id in ids:
            body = {"id": schedule_id, "cron": "0 0 1 1 *", "run": run, "paused": True}
            response = api.post("/api/schedules", json=body)
            assert response.status_code == 201, response.text
        listed = api.get("/api/schedules")
    assert listed.status_code == 200, listed.text
    assert set(ids) <= {schedule["id"] for schedule in listed.json()}
