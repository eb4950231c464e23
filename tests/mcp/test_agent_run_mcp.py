"""An agent run on the local mesh using tools from an MCP server, steered by a scripted model."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx

from tests.mcp.conftest import TOKEN
from tests.support.local_mesh import Mesh
from tests.support.servers import RunningServer
from tests.support.waiting import wait_until


def _calls(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [call for task in report["tasks"] for call in task["tool_calls"]]


def test_the_catalog_lists_mcp_tools_and_a_down_server_alone_fails(mcp_mesh: Mesh) -> None:
    with mcp_mesh.api() as api:
        catalog = api.get("/api/tools").json()
        reloaded = api.post("/api/tools/reload").json()
        one = api.get("/api/tools/projects").json()
    for view in (catalog, reloaded):
        tools = {t["name"]: t for t in view["tools"]}
        assert {"projects", "calc", "notes"} <= set(tools)
        functions = {f["name"]: f for f in tools["projects"]["functions"]}
        assert functions["list_projects"]["method"] == "MCP" and not functions["list_projects"]["needs_approval"]
        assert functions["delete_project"]["needs_approval"]
        assert [p["tool"] for p in view["problems"]] == ["offline"]
        assert "could not reach the MCP server" in view["problems"][0]["reason"]
        assert TOKEN not in str(view)
    assert {f["name"] for f in one["functions"]} >= {"list_projects", "delete_project"}
    assert one["functions"][0]["parameters"]["type"] == "object"


def test_a_run_uses_an_mcp_tool_and_a_destructive_one_waits_for_approval(
    mcp_mesh: Mesh, projects_server: RunningServer
) -> None:
    run_id = mcp_mesh.start_run(
        {"objective": "Clean up archived projects", "initial_tasks": ["Delete archived projects"], "model": "mcp"}
    )
    view = mcp_mesh.wait(run_id, until=lambda v: bool((v.get("progress") or {}).get("approvals")), timeout=90)
    pending = view["progress"]["approvals"][0]
    assert pending["function"] == "delete_project" and pending["arguments"] == {"name": "gemini"}
    assert httpx.get(f"{projects_server.url}/state").json()["deleted"] == []  # nothing happened yet
    with mcp_mesh.api() as api:
        response = api.post(f"/api/runs/{run_id}/approvals/{pending['call_id']}", json={"approve": True})
        assert response.status_code == 202, response.text
    report = mcp_mesh.wait(run_id)["output"]
    calls = _calls(report)
    assert [c["function"] for c in calls] == ["list_projects", "delete_project", "offline_lookup"]
    assert [c["ok"] for c in calls] == [True, True, False]
    assert report["tasks"][0]["result"] == "gemini is gone"
    assert httpx.get(f"{projects_server.url}/state").json()["deleted"] == ["gemini"]
    with mcp_mesh.api() as api:
        progress = api.get(f"/api/runs/{run_id}").json()["progress"]
    summaries = [c["summary"] for c in progress["tool_calls"]]
    assert "archived" in summaries[0] and "gemini" in summaries[0]
    assert "no function named 'offline_lookup'" in summaries[2]
    _assert_secret_absent(mcp_mesh.root / "host" / "durable.sqlite3")


def _assert_secret_absent(database: Path) -> None:
    """The bearer token never reaches history, the progress or the report."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        for table in [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]:
            for row in db.execute(f"SELECT * FROM {table}"):  # noqa: S608 - table names come from the database
                assert TOKEN not in repr(row), table


def _waiting_for_input(view: dict[str, Any]) -> bool:
    return any(entry.get("kind") == "input" for entry in (view.get("progress") or {}).get("approvals") or [])


def test_a_tool_asking_for_input_waits_for_the_runs_people_and_gets_their_answer(
    mcp_mesh: Mesh, projects_server: RunningServer
) -> None:
    run_id = mcp_mesh.start_run({"objective": "Archive", "initial_tasks": ["Archive apollo"], "model": "mcp-input"})
    view = mcp_mesh.wait(run_id, until=_waiting_for_input, timeout=90)
    entry = view["progress"]["approvals"][0]
    assert entry["function"] == "archive_project" and entry["arguments"] == {"name": "apollo"}
    assert entry["questions"]["reason"]["message"] == "Why should apollo be archived?"
    assert entry["questions"]["reason"]["schema"]["required"] == ["reason"]
    with mcp_mesh.api() as api:
        bad = api.post(f"/api/runs/{run_id}/approvals/{entry['call_id']}", json={"approve": True, "input": [1]})
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "input"
        answer = {"approve": True, "input": {"reason": {"reason": "the mission is over"}}}
        response = api.post(f"/api/runs/{run_id}/approvals/{entry['call_id']}", json=answer)
        assert response.status_code == 202, response.text
    report = mcp_mesh.wait(run_id)["output"]
    assert [(c["function"], c["ok"]) for c in _calls(report)] == [("archive_project", True)]
    with mcp_mesh.api() as api:
        progress = api.get(f"/api/runs/{run_id}").json()["progress"]
    assert "apollo archived: the mission is over" in progress["tool_calls"][0]["summary"]
    assert httpx.get(f"{projects_server.url}/state").json()["projects"]["apollo"] == "archived"


def test_a_denied_question_is_declined_and_the_tool_says_what_it_did(mcp_mesh: Mesh) -> None:
    run_id = mcp_mesh.start_run({"objective": "Archive", "initial_tasks": ["Archive gemini"], "model": "mcp-input"})
    entry = mcp_mesh.wait(run_id, until=_waiting_for_input, timeout=90)["progress"]["approvals"][0]
    with mcp_mesh.api() as api:
        api.post(f"/api/runs/{run_id}/approvals/{entry['call_id']}", json={"approve": False})
    mcp_mesh.wait(run_id)
    with mcp_mesh.api() as api:
        progress = api.get(f"/api/runs/{run_id}").json()["progress"]
    assert "was not archived" in progress["tool_calls"][0]["summary"]


def _waiting_for_task(view: dict[str, Any]) -> bool:
    return any(entry.get("kind") == "task" for entry in (view.get("progress") or {}).get("waiting") or [])


def test_a_long_running_mcp_task_survives_a_host_restart_while_the_run_waits(
    mcp_mesh: Mesh, projects_server: RunningServer
) -> None:
    before = set(_tasks(projects_server))
    run_id = mcp_mesh.start_run({"objective": "Export", "initial_tasks": ["Export apollo"], "model": "mcp-task"})
    view = mcp_mesh.wait(run_id, until=_waiting_for_task, timeout=90)
    waiting = view["progress"]["waiting"][0]
    assert waiting["function"] == "export_project" and "exporting apollo" in waiting["message"]
    started = {k: v for k, v in _tasks(projects_server).items() if k not in before}
    assert [(t["name"], t["status"]) for t in started.values()] == [("apollo", "working")]

    assert mcp_mesh.host is not None
    mcp_mesh.host.kill()  # no connection to the MCP server is held: the wait is timers and history
    mcp_mesh.start_host()
    polled = _task_gets(projects_server)
    wait_until(lambda: _task_gets(projects_server) > polled, timeout=60, interval=0.2, what="a poll after the restart")
    assert mcp_mesh.wait(run_id, until=_waiting_for_task, timeout=10)["status"] == "Running"
    assert httpx.post(f"{projects_server.url}/tasks/finish").json()["finished"]

    report = mcp_mesh.wait(run_id, timeout=90)["output"]
    assert report["outcome"] == "completed", report
    assert [(c["function"], c["ok"]) for c in _calls(report)] == [("export_project", True)]
    assert report["tasks"][0]["result"] == "apollo is exported"
    with mcp_mesh.api() as api:
        progress = api.get(f"/api/runs/{run_id}").json()["progress"]
    assert "export of apollo: 3 files" in progress["tool_calls"][0]["summary"]
    assert progress["waiting"] == []
    after = {k: v for k, v in _tasks(projects_server).items() if k not in before}
    assert list(after) == list(started) and after[next(iter(after))]["status"] == "completed"  # started once
    _assert_trace_context(projects_server, run_id, mcp_mesh.wait(run_id)["trace_id"])


def _assert_trace_context(server: RunningServer, run_id: str, trace_id: str) -> None:
    """Every request of the run carries its trace as a `traceparent` header, and in `_meta` as well."""
    seen = [r for r in httpx.get(f"{server.url}/state").json()["seen_requests"] if r["run_id"] == run_id]
    assert {"tools/call", "tasks/get"} <= {r["method"] for r in seen}, seen
    for request in seen:
        assert request["traceparent"].split("-")[1] == trace_id, request
        if request["method"] in ("tools/call", "tasks/get"):
            assert request["meta_traceparent"].split("-")[1] == trace_id, request


def test_an_mcp_task_asking_for_input_waits_for_the_runs_people_and_gets_their_answer(
    mcp_mesh: Mesh, projects_server: RunningServer
) -> None:
    run_id = mcp_mesh.start_run(
        {"objective": "Restore", "initial_tasks": ["Restore gemini"], "model": "mcp-task-input"}
    )
    entry = mcp_mesh.wait(run_id, until=_waiting_for_input, timeout=90)["progress"]["approvals"][0]
    assert entry["function"] == "restore_project" and entry["arguments"] == {"name": "gemini"}
    assert entry["questions"]["snapshot"]["message"] == "Restore from which snapshot?"
    with mcp_mesh.api() as api:
        answer = {"approve": True, "input": {"snapshot": {"snapshot": "monday"}}}
        response = api.post(f"/api/runs/{run_id}/approvals/{entry['call_id']}", json=answer)
        assert response.status_code == 202, response.text
    report = mcp_mesh.wait(run_id, timeout=90)["output"]
    assert [(c["function"], c["ok"]) for c in _calls(report)] == [("restore_project", True)]
    with mcp_mesh.api() as api:
        progress = api.get(f"/api/runs/{run_id}").json()["progress"]
    assert "gemini restored from monday" in progress["tool_calls"][0]["summary"]


def test_a_run_cancelled_while_an_mcp_task_works_cancels_the_task(
    mcp_mesh: Mesh, projects_server: RunningServer
) -> None:
    before = set(_tasks(projects_server))
    run_id = mcp_mesh.start_run({"objective": "Export", "initial_tasks": ["Export apollo"], "model": "mcp-task"})
    mcp_mesh.wait(run_id, until=_waiting_for_task, timeout=90)
    with mcp_mesh.api() as api:
        assert api.post(f"/api/runs/{run_id}/cancel").status_code == 202
    report = mcp_mesh.wait(run_id, timeout=90)["output"]
    assert report["outcome"] == "cancelled", report
    started = [t for k, t in _tasks(projects_server).items() if k not in before]
    assert [(t["name"], t["status"]) for t in started] == [("apollo", "cancelled")]


def _task_gets(server: RunningServer) -> int:
    return int(httpx.get(f"{server.url}/state").json()["task_gets"])


def _tasks(server: RunningServer) -> dict[str, dict[str, Any]]:
    tasks: dict[str, dict[str, Any]] = httpx.get(f"{server.url}/state").json()["tasks"]
    return tasks
