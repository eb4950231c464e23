"""Schedules through the real mesh: one run per tick across a host crash, none while paused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.support.local_mesh import Mesh, start_mesh
from toolmesh_cli.main import app

PERIOD = 5
RUN = {"objective": "Calculate 1 + 1", "initial_tasks": ["Calculate 1 + 1"], "budgets": {"max_iterations": 1}}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    running = start_mesh(tmp_path_factory.mktemp("schedules"))
    try:
        yield running
    finally:
        running.stop()


def _schedule(mesh: Mesh, schedule_id: str) -> dict[str, Any]:
    with mesh.api() as api:
        response = api.get(f"/api/schedules/{schedule_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _until(mesh: Mesh, schedule_id: str, check: Any, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            view = _schedule(mesh, schedule_id)
        except Exception:  # the host is restarting
            view = {}
        if view and check(view):
            return view
        assert time.monotonic() < deadline, f"schedule {schedule_id} never got there: {view}"
        time.sleep(0.3)


def _tick_runs(mesh: Mesh, schedule_id: str) -> list[str]:
    with mesh.api() as api:
        listed = api.get(
            "/runtime/webhooks/durabletask/instances", params={"instanceIdPrefix": f"schedule-{schedule_id}-"}
        ).json()
    return sorted(i["instanceId"] for i in listed if i["name"] == "agent_run")


def _tick(run_id: str) -> datetime:
    return datetime.strptime(run_id.rsplit("-", 1)[-1], "%Y%m%dT%H%M%SZ")


def test_bad_schedules_are_refused_with_the_field(mesh: Mesh) -> None:
    with mesh.api() as api:
        bad_cron = api.post("/api/schedules", json={"cron": "every minute", "run": RUN})
        assert bad_cron.status_code == 400 and bad_cron.json()["error"]["field"] == "cron"
        bad_run = api.post("/api/schedules", json={"cron": "* * * * *", "run": {"objective": ""}})
        assert bad_run.status_code == 400 and bad_run.json()["error"]["field"] == "run.objective"
        assert api.get("/api/schedules/nope").status_code == 404
        assert api.delete("/api/schedules/nope").status_code == 404


def test_a_schedule_starts_one_run_per_tick_across_a_host_crash_and_none_while_paused(mesh: Mesh) -> None:
    with mesh.api() as api:
        created = api.post("/api/schedules", json={"id": "every5", "cron": f"* * * * * */{PERIOD}", "run": RUN})
        assert created.status_code == 201, created.text
        assert api.post("/api/schedules", json={"id": "every5", "cron": "* * * * *", "run": RUN}).status_code == 409
        # Created paused, on the same cron: it must start nothing, before or after the crash.
        held = {"id": "held", "cron": f"* * * * * */{PERIOD}", "run": RUN, "paused": True}
        assert api.post("/api/schedules", json=held).status_code == 201
    _until(mesh, "every5", lambda v: v["runs_started"] >= 2)

    assert mesh.host is not None
    mesh.host.kill()
    time.sleep(PERIOD * 2)  # ticks pass while no host runs
    mesh.start_host()
    before = _until(mesh, "every5", lambda v: True)["runs_started"]
    _until(mesh, "every5", lambda v: v["runs_started"] >= before + 2)

    with mesh.api() as api:
        assert api.post("/api/schedules/every5/pause").status_code == 202
    paused = _until(mesh, "every5", lambda v: v["paused"] is True)
    runs = _tick_runs(mesh, "every5")
    time.sleep(PERIOD * 3)  # three ticks' worth of time: a paused schedule starts none
    still = _schedule(mesh, "every5")
    assert _tick_runs(mesh, "every5") == runs and still["runs_started"] == paused["runs_started"]

    # Exactly one run per tick: every recorded tick has one run, and the ticks the crash skipped are
    # counted as missed, so first..last covers runs + missed ticks with no gap and no double.
    assert len(runs) == paused["runs_started"] == len(set(runs))
    ticks = [_tick(r) for r in runs]
    assert all(t.second % PERIOD == 0 for t in ticks)
    span = int((ticks[-1] - ticks[0]) / timedelta(seconds=PERIOD)) + 1
    assert span == paused["runs_started"] + paused["missed"], (ticks, paused)
    assert paused["missed"] >= 1  # the crash lasted two periods

    never = _schedule(mesh, "held")
    assert never["paused"] is True and never["runs_started"] == 0 and _tick_runs(mesh, "held") == [], never

    with mesh.api() as api:
        assert api.post("/api/schedules/every5/resume").status_code == 202
        _until(mesh, "every5", lambda v: v["runs_started"] > paused["runs_started"])
        assert sorted(s["id"] for s in api.get("/api/schedules").json()) == ["every5", "held"]
        assert api.delete("/api/schedules/held").status_code == 204
        assert api.delete("/api/schedules/every5").status_code == 204
        assert api.get("/api/schedules/every5").status_code == 404
        assert api.get("/api/schedules").json() == []


def test_the_cli_adds_lists_pauses_and_deletes_a_schedule(mesh: Mesh, tmp_path: Path) -> None:
    def toolmesh(*args: str) -> str:
        result = CliRunner().invoke(
            app,
            ["--url", mesh.url, "--key", mesh.keys["functions"], "--state-dir", str(tmp_path), *args],
            catch_exceptions=False,
            env={"COLUMNS": "200"},
        )
        assert result.exit_code == 0, result.output
        return result.output

    added = toolmesh(
        "schedules", "add", "0 0 1 1 *", "New year's report", "--id", "newyear", "--run", '{"model": "default"}'
    )
    assert "schedule newyear created" in added
    assert "newyear" in toolmesh("schedules")
    toolmesh("schedules", "pause", "newyear")
    _until(mesh, "newyear", lambda v: v["paused"] is True)
    assert "paused" in toolmesh("schedules", "show", "newyear")
    toolmesh("schedules", "delete", "newyear")
