"""A whole agent run through every service on the local durable host, over real sockets."""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.local_mesh import Mesh, start_mesh

OBJECTIVE = (
    "Calculate 12 * 49.90 for the licence budget. "
    "Write a note with the licence budget result. "
    "File an issue to order the 12 licences."
)


def _functions_called(report: dict[str, Any]) -> list[str]:
    return [call["function"] for task in report["tasks"] for call in task["tool_calls"]]


def test_offline_run_uses_tools_and_the_notes_service_holds_its_results(mesh: Mesh) -> None:
    run_id = mesh.start_run({"objective": OBJECTIVE})
    view = mesh.wait(run_id)
    assert view["status"] == "Completed", view
    report = view["output"]
    assert report["outcome"] == "completed"
    assert report["stop_reason"] in ("no_pending_tasks", "objective_met")
    assert len(report["tasks"]) == 3
    called = _functions_called(report)
    assert any("calc" in name or "evaluate" in name.lower() for name in called), called
    assert called == ["evaluateExpression", "createNote", "createIssue"], called
    assert all(call["ok"] for task in report["tasks"] for call in task["tool_calls"]), report["tasks"]
    assert "598.8" in report["tasks"][0]["result"]
    assert report["summary"]
    assert report["usage"]["llm_calls"] >= 7 and report["usage"]["tool_calls"] >= 3

    # The run's memory (one note per finished task) and the note the agent wrote with a tool call
    # are both really in the notes service, read through its own API.
    with mesh.tool("notes") as notes:
        response = notes.get("/notes", params={"run_id": run_id, "limit": 50})
        assert response.status_code == 200, response.text
        memory = response.json()["items"]
        written = re.search(r'"id":\s*"(note_[0-9a-f]+)"', report["tasks"][1]["result"])
        assert written is not None, report["tasks"][1]
        note = notes.get(f"/notes/{written.group(1)}")
    # Notes made for a run belong to it: the memory and the note its model wrote.
    remembered = sorted((n for n in memory if n["title"].startswith("Task ")), key=lambda n: n["title"])
    assert [n["title"] for n in remembered] == [f"Task {t['id']}: {t['task']}" for t in report["tasks"]]
    assert "598.8" in "".join(n["content"] for n in remembered)
    assert note.status_code == 200, note.text
    assert note.json()["run_id"] == run_id and len(memory) == len(remembered) + 1
    with mesh.tool("issues") as issues:
        filed = issues.get("/issues").json()
    filed = filed["items"] if isinstance(filed, dict) else filed
    assert any("licence" in issue["title"].lower() for issue in filed), filed


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict):
                lines.append(record)
    return lines


def test_the_log_lines_of_a_runs_requests_carry_its_trace_id(mesh: Mesh) -> None:
    """Logs and traces meet on the trace id, exporter or not: the services' lines for the run's requests."""
    run_id = mesh.start_run({"objective": "Calculate 6 * 7."})
    view = mesh.wait(run_id)
    assert view["status"] == "Completed", view
    trace_id = view["trace_id"]
    for service in ("calc", "gateway"):
        lines = _json_lines(mesh.services[service].log())
        of_run = [line for line in lines if line.get("otelTraceID") == trace_id]
        assert of_run, f"no {service} log line carries the run's trace id {trace_id}: {lines[-3:]}"
        assert all(len(str(line.get("otelSpanID"))) == 16 for line in of_run), of_run


def test_a_malformed_run_request_gets_a_400_naming_the_field(mesh: Mesh) -> None:
    with mesh.api() as api:
        assert api.post("/api/runs", content=b"{not json").status_code == 400
        response = api.post("/api/runs", json={"objective": "x", "budgets": {"max_iterations": 0}})
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "budgets.max_iterations"
        response = api.post("/api/runs", json={"goal": "x"})
        assert response.status_code == 400
        assert "goal" in response.json()["error"]["message"]  # the unknown field is named
        response = api.post("/api/runs", json={"budgets": {}})
        assert response.status_code == 400
        assert "objective" in response.json()["error"]["message"]


def test_an_unknown_run_is_a_404_and_a_missing_key_a_401(mesh: Mesh) -> None:
    with mesh.api() as api:
        assert api.get("/api/runs/no-such-run").status_code == 404
        assert api.post("/api/runs/no-such-run/cancel").status_code == 404
    assert httpx.get(f"{mesh.url}/api/runs").status_code == 401
    assert httpx.post(f"{mesh.url}/api/runs", json={"objective": "x"}).status_code == 401


@pytest.mark.slow
def test_a_killed_host_continues_the_run_with_nothing_lost_or_repeated(tmp_path: Path) -> None:
    crash_mesh = start_mesh(tmp_path)
    try:
        objective = " ".join(f"Write a note about topic number {i}." for i in range(1, 7))
        run_id = crash_mesh.start_run({"objective": objective, "budgets": {"max_iterations": 10}})
        crash_mesh.wait(run_id, until=lambda v: len((v.get("progress") or {}).get("done") or []) >= 2, timeout=90)
        assert crash_mesh.host is not None
        crash_mesh.host.kill()
        crash_mesh.start_host()
        view = crash_mesh.wait(run_id, timeout=120)
        assert view["status"] == "Completed", view
        report = view["output"]
        ids = [task["id"] for task in report["tasks"]]
        texts = [task["task"] for task in report["tasks"]]
        assert len(ids) == 6 and len(set(ids)) == 6 and len(set(texts)) == 6
        with crash_mesh.tool("notes") as notes:
            items = notes.get("/notes", params={"run_id": run_id, "limit": 100}).json()
        items = items["items"] if isinstance(items, dict) else items
        titles = Counter(n["title"] for n in items if str(n.get("title", "")).startswith("Task "))
        assert len(titles) == 6 and set(titles.values()) == {1}, titles
    finally:
        crash_mesh.stop()
