"""Agent-run scenarios through the real mesh on the local host, steered by scripted model answers.

Each scenario has its own model alias in the gateway: a scripted conversation that answers the
steps it cares about and lets the offline provider answer the rest.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from durable_host.history import EventType
from tests.support.local_mesh import Mesh, scripted_gateway_config, start_mesh
from tests.support.servers import RunningServer, start_uvicorn

SCRIPTS: dict[str, list[dict[str, Any]]] = {
    "parallel": [
        {
            "match": {"step": "execute_task", "tool_messages": 0},
            "respond": {
                "tool_calls": [
                    {"name": "evaluateExpression", "arguments": {"expression": "2 + 3"}},
                    {"name": "evaluateExpression", "arguments": {"expression": "4 * 5"}},
                ]
            },
        },
        {
            "match": {"step": "execute_task", "tool_messages": 2},
            "respond": {"content": "2 + 3 = 5 and 4 * 5 = 20"},
        },
    ],
    "mistakes": [
        {
            "match": {"step": "execute_task", "tool_messages": 0},
            "respond": {"tool_calls": [{"name": "calculator_eval", "arguments": {"expression": "2 + 3"}}]},
        },
        {
            "match": {"step": "execute_task", "tool_messages": 1},
            "respond": {"tool_calls": [{"name": "evaluateExpression", "arguments": {"expr": 5}}]},
        },
        {
            "match": {"step": "execute_task", "tool_messages": 2},
            "respond": {"tool_calls": [{"name": "evaluateExpression", "arguments": {"expression": "2 + 3"}}]},
        },
        {"match": {"step": "execute_task", "tool_messages": 3}, "respond": {"content": "2 + 3 = 5"}},
    ],
    "flaky": [
        {
            "match": {"step": "execute_task", "tool_messages": 0},
            "respond": {"tool_calls": [{"name": "createJob", "arguments": {"name": "nightly"}}]},
        },
        {"match": {"step": "execute_task", "tool_messages": 1}, "respond": {"content": "job created"}},
    ],
    "weather": [
        {
            "match": {"step": "execute_task", "tool_messages": 0},
            "respond": {"tool_calls": [{"name": "getForecast", "arguments": {"city": "Oslo"}}]},
        }
    ],
    "dropper": [{"match": {"step": "prioritize"}, "respond": {"json": {"order": [3]}}}],
    "mailbox": [
        {
            "match": {"step": "execute_task", "tool_messages": 0},
            "respond": {
                "tool_calls": [
                    {
                        "name": "sendMessage",
                        "arguments": {"to": "dana", "subject": "Budget", "body": "May we spend 598.80?"},
                    }
                ]
            },
        }
    ],
}


@pytest.fixture(scope="module")
def flaky(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("flaky")
    server = start_uvicorn(
        "tests.scenarios.flaky_service:app", log_path=root / "flaky.log", env={"FLAKY_API_KEY": "flaky-key"}
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory, flaky: RunningServer) -> Iterator[Mesh]:
    root = tmp_path_factory.mktemp("scenarios")
    registry = yaml.safe_load((Path(__file__).parents[2] / "specs" / "registry.yaml").read_text())
    registry["tools"]["flaky"] = {
        "spec": f"{flaky.url}/openapi.json",
        "base_url": flaky.url,
        "auth": {"ApiKeyAuth": "FLAKY_API_KEY"},
        "approval": "never",
        "tags": ["test"],
    }
    registry_path = root / "registry.yaml"
    registry_path.write_text(yaml.safe_dump(registry))
    running = start_mesh(
        root,
        gateway_env={"TOOLMESH_GATEWAY_CONFIG": str(scripted_gateway_config(root, SCRIPTS))},
        registry=registry_path,
        host_env={"FLAKY_API_KEY": "flaky-key"},
    )
    try:
        yield running
    finally:
        running.stop()


def _calls(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [call for task in report["tasks"] for call in task["tool_calls"]]


def _progress(view: dict[str, Any]) -> dict[str, Any]:
    return view.get("progress") or {}


def _waiting_for_approval(view: dict[str, Any]) -> bool:
    return bool(_progress(view).get("approvals"))


def _assert_every_activity_got_its_input(mesh: Mesh, run_id: str) -> None:
    """Replay re-issues calls with a stand-in input; none may ever reach history or an activity.

    The management API folds TaskScheduled into TaskCompleted without its input, as the real
    host does, so the host's own store is read (its execution history, as JSON events).
    """
    with sqlite3.connect(f"file:{mesh.root / 'host' / 'durable.sqlite3'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT event FROM history WHERE instance_id = ?", (run_id,)).fetchall()
    events = [json.loads(row[0]) for row in rows]
    scheduled = [e for e in events if e["EventType"] == EventType.TASK_SCHEDULED]
    assert scheduled, events
    for event in scheduled:
        payload = json.loads(event["Input"])
        assert isinstance(payload, dict) and "replayed_call" not in payload, event
    assert not [e for e in events if e["EventType"] == EventType.TASK_FAILED]


def test_parallel_tool_calls_run_together(mesh: Mesh) -> None:
    run_id = mesh.start_run(
        {"objective": "Work out two sums", "initial_tasks": ["Add the numbers"], "model": "parallel"}
    )
    report = mesh.wait(run_id)["output"]
    assert report["outcome"] == "completed", report
    assert [c["function"] for c in _calls(report)] == ["evaluateExpression", "evaluateExpression"]
    assert all(c["ok"] for c in _calls(report))
    assert report["tasks"][0]["result"] == "2 + 3 = 5 and 4 * 5 = 20"
    with mesh.api() as api:
        progress = api.get(f"/api/runs/{run_id}").json()["progress"]
    _assert_every_activity_got_its_input(mesh, run_id)
    # Both calls came from one model turn (same turn number in the call ids).
    assert [c["call_id"] for c in progress["tool_calls"]] == ["c1-0-0", "c1-0-1"]
    assert ["5" in progress["tool_calls"][0]["summary"], "20" in progress["tool_calls"][1]["summary"]] == [
        True,
        True,
    ]


def test_a_wrong_function_name_and_bad_arguments_are_corrected_by_the_model(mesh: Mesh) -> None:
    run_id = mesh.start_run({"objective": "Add", "initial_tasks": ["Add 2 and 3"], "model": "mistakes"})
    view = mesh.wait(run_id)
    report = view["output"]
    assert [c["ok"] for c in _calls(report)] == [False, False, True]
    summaries = [c["summary"] for c in view["progress"]["tool_calls"]]
    assert "no function named 'calculator_eval'" in summaries[0]
    assert "invalid arguments" in summaries[1] and "expression" in summaries[1]
    assert report["tasks"][0]["result"] == "2 + 3 = 5"


def test_a_tool_failing_with_500_recovers_on_retry_with_the_same_idempotency_key(
    mesh: Mesh, flaky: RunningServer
) -> None:
    run_id = mesh.start_run({"objective": "Schedule", "initial_tasks": ["Schedule the nightly job"], "model": "flaky"})
    report = mesh.wait(run_id)["output"]
    assert _calls(report) == [{"function": "createJob", "ok": True, "status": 201}]
    attempts = httpx.get(f"{flaky.url}/attempts", headers={"X-API-Key": "flaky-key"}).json()
    assert list(attempts.values()) == [2], attempts  # one key, two attempts


def test_a_prioritizer_answer_that_drops_a_task_is_rejected_and_the_order_kept(mesh: Mesh) -> None:
    run_id = mesh.start_run(
        {
            "objective": "Three steps",
            "initial_tasks": ["Add 1 and 1", "Add 2 and 2", "Add 3 and 3"],
            "model": "dropper",
        }
    )
    report = mesh.wait(run_id)["output"]
    assert [t["task"] for t in report["tasks"]] == ["Add 1 and 1", "Add 2 and 2", "Add 3 and 3"]
    assert any("order kept" in event for event in report["events"]), report["events"]
    _assert_every_activity_got_its_input(mesh, run_id)


def test_a_run_longer_than_the_continue_as_new_interval_keeps_its_id_and_progress(mesh: Mesh) -> None:
    tasks = [f"Calculate {i} * 7" for i in range(1, 5)]
    run_id = mesh.start_run({"objective": "Multiply", "initial_tasks": tasks, "options": {"continue_every": 1}})
    view = mesh.wait(run_id)
    report = view["output"]
    assert [t["task"] for t in report["tasks"]] == tasks
    assert [t["id"] for t in report["tasks"]] == [1, 2, 3, 4]
    assert report["executions"] >= 4
    assert "28" in report["tasks"][3]["result"]


def _approval_run(mesh: Mesh, **options: Any) -> tuple[str, str]:
    body = {
        "objective": "Add",
        "initial_tasks": ["Calculate 2 + 3"],
        "approval": {"evaluateExpression": "always"},
        "options": options,
    }
    run_id = mesh.start_run(body)
    view = mesh.wait(run_id, until=_waiting_for_approval, timeout=60)
    pending = _progress(view)["approvals"][0]
    assert pending["function"] == "evaluateExpression" and pending["arguments"] == {"expression": "2 + 3"}
    return run_id, pending["call_id"]


def test_an_approved_call_runs(mesh: Mesh) -> None:
    run_id, call_id = _approval_run(mesh)
    with mesh.api() as api:
        assert api.post(f"/api/runs/{run_id}/approvals/{call_id}", json={"approve": "yes"}).status_code == 400
        assert api.post(f"/api/runs/{run_id}/approvals/nope", json={"approve": True}).status_code == 404
        response = api.post(f"/api/runs/{run_id}/approvals/{call_id}", json={"approve": True, "comment": "fine"})
        assert response.status_code == 202, response.text
    report = mesh.wait(run_id)["output"]
    assert _calls(report) == [{"function": "evaluateExpression", "ok": True, "status": 200}]
    assert "5" in report["tasks"][0]["result"]
    _assert_every_activity_got_its_input(mesh, run_id)


def test_a_denied_call_goes_back_to_the_model_with_the_reason(mesh: Mesh) -> None:
    run_id, call_id = _approval_run(mesh)
    with mesh.api() as api:
        api.post(f"/api/runs/{run_id}/approvals/{call_id}", json={"approve": False, "comment": "not today"})
    view = mesh.wait(run_id)
    assert [c["ok"] for c in _calls(view["output"])] == [False]
    assert "denied" in view["progress"]["tool_calls"][0]["summary"]
    assert "not today" in view["progress"]["tool_calls"][0]["summary"]


def test_an_approval_that_times_out_goes_back_to_the_model(mesh: Mesh) -> None:
    run_id, _ = _approval_run(mesh, approval_timeout_seconds=1)
    view = mesh.wait(run_id)
    assert [c["ok"] for c in _calls(view["output"])] == [False]
    assert "no one approved" in view["progress"]["tool_calls"][0]["summary"]


def test_cancel_stops_a_waiting_run_and_reports_what_was_done(mesh: Mesh) -> None:
    run_id, _ = _approval_run(mesh)
    with mesh.api() as api:
        assert api.post(f"/api/runs/{run_id}/cancel").status_code == 202
        report = mesh.wait(run_id)["output"]
        assert api.post(f"/api/runs/{run_id}/cancel").status_code == 409
    assert report["outcome"] == "cancelled" and report["stop_reason"] == "cancelled"
    assert _calls(report) == [] and report["tasks"] == []
    assert report["usage"]["tool_calls"] == 0


@pytest.mark.parametrize(
    ("budgets", "reason"),
    [
        ({"max_iterations": 1}, "max_iterations"),
        ({"max_tool_calls": 1}, "max_tool_calls"),
        ({"max_tokens": 1000}, "max_tokens"),
    ],
)
def test_each_budget_stops_a_run(mesh: Mesh, budgets: dict[str, int], reason: str) -> None:
    run_id = mesh.start_run(
        {
            "objective": "Sums",
            "initial_tasks": ["Calculate 1 + 1", "Calculate 2 + 2", "Calculate 3 + 3"],
            "budgets": budgets,
        }
    )
    report = mesh.wait(run_id)["output"]
    assert report["outcome"] == "budget_exhausted" and report["stop_reason"] == reason, report
    assert report["pending"], "a budget stop leaves the remaining tasks in the report"


def test_the_deadline_stops_a_run_waiting_for_a_person(mesh: Mesh) -> None:
    run_id, _ = _approval_run(mesh)
    # A second run with a short deadline: its approval wait ends at the deadline.
    body = {
        "objective": "Add",
        "initial_tasks": ["Calculate 2 + 3", "Calculate 3 + 4"],
        "approval": {"evaluateExpression": "always"},
        "budgets": {"deadline_seconds": 10},
    }
    short = mesh.start_run(body)
    report = mesh.wait(short, timeout=60)["output"]
    assert report["stop_reason"] == "deadline", report
    with mesh.api() as api:
        api.post(f"/api/runs/{run_id}/cancel")


def test_progress_shows_pending_approvals_as_json(mesh: Mesh) -> None:
    run_id, call_id = _approval_run(mesh)
    with mesh.api() as api:
        view = api.get(f"/api/runs/{run_id}").json()
        json.dumps(view)  # the whole view is plain JSON
        assert view["status"] == "Running"
        listed = api.get("/api/runs", params={"limit": 1000}).json()
        assert next(r for r in listed if r["id"] == run_id)["objective"] == "Add"
        assert view["progress"]["phase"] == "waiting"
        api.post(f"/api/runs/{run_id}/cancel")
    assert call_id.startswith("c1-")


def _waiting_for_reply(view: dict[str, Any]) -> bool:
    return bool(_progress(view).get("waiting"))


def test_a_mailbox_reply_reaches_the_run_after_a_host_restart(mesh: Mesh) -> None:
    run_id = mesh.start_run(
        {
            "objective": "Budget sign-off",
            "initial_tasks": ["Ask dana to approve the budget"],
            "model": "mailbox",
        }
    )
    view = mesh.wait(run_id, until=_waiting_for_reply, timeout=60)
    waiting = _progress(view)["waiting"][0]
    message_id = waiting["response"]["id"]
    assert waiting["function"] == "sendMessage" and message_id.startswith("msg_")

    assert mesh.host is not None
    mesh.host.kill()  # the run waits durably; the reply arrives while the host is down or restarting
    with mesh.tool("mailbox") as mailbox:
        response = mailbox.post(f"/messages/{message_id}/reply", json={"reply": "Approved, go ahead", "from": "dana"})
        assert response.status_code in (200, 201, 202), response.text
    mesh.start_host()

    report = mesh.wait(run_id, timeout=90)["output"]
    assert report["outcome"] == "completed", report
    assert "Approved, go ahead" in report["tasks"][0]["result"]


def test_a_person_replies_through_the_run_api(mesh: Mesh) -> None:
    run_id = mesh.start_run(
        {
            "objective": "Budget sign-off",
            "initial_tasks": ["Ask dana to approve the budget"],
            "model": "mailbox",
        }
    )
    view = mesh.wait(run_id, until=_waiting_for_reply, timeout=60)
    call_id = _progress(view)["waiting"][0]["call_id"]
    with mesh.api() as api:
        assert api.post(f"/api/runs/{run_id}/replies/{call_id}", json={"reply": ""}).status_code == 400
        assert api.post(f"/api/runs/{run_id}/replies/nope", json={"reply": "x"}).status_code == 404
        response = api.post(f"/api/runs/{run_id}/replies/{call_id}", json={"reply": "No, wait a week", "from": "dana"})
        assert response.status_code == 202, response.text
    report = mesh.wait(run_id, timeout=60)["output"]
    assert "No, wait a week" in report["tasks"][0]["result"]


def test_a_forged_callback_is_refused(mesh: Mesh) -> None:
    response = httpx.post(f"{mesh.url}/api/runs/some-run/callbacks/c1-0-0?sig=forged", json={"reply": "x"})
    assert response.status_code == 401


def _catalog_functions(mesh: Mesh) -> set[str]:
    with mesh.api() as api:
        catalog = api.get("/api/tools").json()
    return {f["name"] for tool in catalog["tools"] for f in tool["functions"]}


def test_a_tool_registered_while_the_mesh_runs_is_used_by_the_next_run(mesh: Mesh) -> None:
    registry_path = Path(mesh.host_env["TOOLMESH_REGISTRY"])
    before = registry_path.read_text()
    assert "getForecast" not in _catalog_functions(mesh)
    weather = start_uvicorn("tests.scenarios.weather_service:app", log_path=mesh.root / "logs" / "weather.log")
    try:
        registry = yaml.safe_load(before)
        registry["tools"]["weather"] = {"spec": f"{weather.url}/openapi.json", "base_url": weather.url}
        registry_path.write_text(yaml.safe_dump(registry))
        with mesh.api() as api:
            reloaded = api.post("/api/tools/reload").json()
        assert "weather" in {tool["name"] for tool in reloaded["tools"]}

        run_id = mesh.start_run(
            {"objective": "Plan", "initial_tasks": ["Check the weather in Oslo"], "model": "weather"}
        )
        report = mesh.wait(run_id)["output"]
        assert _calls(report) == [{"function": "getForecast", "ok": True, "status": 200}]
        assert "sunny in Oslo" in report["tasks"][0]["result"]
    finally:
        registry_path.write_text(before)
        weather.stop()
    assert "getForecast" not in _catalog_functions(mesh)


def test_a_run_keeps_only_the_tools_it_asked_for_in_its_history(mesh: Mesh) -> None:
    run_id = mesh.start_run(
        {"objective": "Work out two sums", "initial_tasks": ["Add the numbers"], "model": "parallel", "tools": ["math"]}
    )
    report = mesh.wait(run_id)["output"]
    assert report["outcome"] == "completed", report
    with mesh.api() as api:
        status = api.get(
            f"/runtime/webhooks/durabletask/instances/{run_id}",
            params={"showHistory": "true", "showHistoryOutput": "true"},
        ).json()
    [catalog] = [e["Result"] for e in status["historyEvents"] if e.get("FunctionName") == "load_catalog"]
    assert set(catalog["tools"]) == {"calc"}
    assert {f["tool"] for f in catalog["functions"]} == {"calc"}
