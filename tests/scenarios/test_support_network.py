"""A support desk as a network of agents, through the real mesh on the local host (scripted model).

Tickets are runs of the ``support`` network of specs/agents.yaml: the router sends each task to
customer_support or technical_support; the technical agent files an issue, and the registry
declares that createIssue waits for ``developer.response`` matched on the run's ticketId.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.local_mesh import FINISHED, Mesh, scripted_gateway_config, start_mesh

REPO = Path(__file__).parents[2]
WAIT_SECONDS = 45
USAGE = {"prompt_tokens": 10, "completion_tokens": 5}


def _entry(match: dict[str, Any], **respond: Any) -> dict[str, Any]:
    return {"match": match, "respond": {"usage": USAGE, **respond}}


SUPPORT = [
    _entry({"step": "create_tasks"}, json={"tasks": [], "objective_met": True}),
    _entry(
        {"step": "route", "task_contains": "log in"},
        json={"agent": "customer_support", "reason": "an account question"},
    ),
    # The routing model would send everything to customer support; the network's rule wins for crashes.
    _entry({"step": "route"}, json={"agent": "customer_support", "reason": "the model's choice"}),
    _entry(
        {"step": "execute_task", "agent": "customer_support", "task_contains": "log in", "tool_messages": 0},
        tool_calls=[
            {
                "name": "handoff_to_agent",
                "arguments": {"agent": "technical_support", "reason": "login fails with an error", "note": "since 2.2"},
            }
        ],
    ),
    _entry({"step": "execute_task", "agent": "customer_support"}, content="Answered the customer"),
    _entry(
        {"step": "execute_task", "agent": "technical_support", "tool_messages": 0},
        tool_calls=[{"name": "createIssue", "arguments": {"title": "Customer problem", "labels": ["bug"]}}],
    ),
    _entry(
        {"step": "execute_task", "agent": "technical_support", "tool_contains": "no answer"},
        content="No answer from the developers yet; told the customer we are on it",
    ),
    _entry(
        {"step": "execute_task", "agent": "technical_support", "tool_contains": "fixed in 2.3"},
        content="The developers say it is fixed in 2.3; told the customer",
    ),
    _entry({"step": "execute_task", "agent": "technical_support", "tool_messages": 1}, content="Got an answer"),
]

PINGPONG = [
    _entry({"step": "create_tasks"}, json={"tasks": [], "objective_met": True}),
    _entry({"step": "execute_task", "tool_contains": "no handoff is left"}, content="Finished it myself"),
    _entry(
        {"step": "execute_task", "agent": "ping", "tool_messages": 0},
        tool_calls=[{"name": "handoff_to_agent", "arguments": {"agent": "pong", "reason": "yours"}}],
    ),
    _entry(
        {"step": "execute_task", "agent": "pong", "tool_messages": 0},
        tool_calls=[{"name": "handoff_to_agent", "arguments": {"agent": "ping", "reason": "no, yours"}}],
    ),
]

ADD = [
    _entry({"step": "create_tasks"}, json={"tasks": [], "objective_met": True}),
    _entry({"step": "route"}, json={"agent": "adder", "reason": "it adds"}),
    _entry(
        {"step": "execute_task", "tool_messages": 0},
        tool_calls=[{"name": "evaluateExpression", "arguments": {"expression": "1 + 1"}}],
    ),
    _entry({"step": "execute_task", "tool_messages": 1}, content="2"),
    _entry({"step": "summarize"}, content="Added."),
]


SCRIPTS = {"support": SUPPORT, "pingpong": PINGPONG, "adder": ADD}


def _agents_file(root: Path) -> Path:
    agents = yaml.safe_load((REPO / "specs" / "agents.yaml").read_text())
    agents["agents"]["ping"] = {"description": "Ping.", "tools": ["calc"]}
    agents["agents"]["pong"] = {"description": "Pong.", "tools": ["calc"]}
    agents["agents"]["adder"] = {"description": "Adds numbers.", "tools": ["evaluateExpression"]}
    agents["agents"]["broken"] = {"description": "", "tools": "calc", "colour": "red"}
    agents["networks"]["pingpong"] = {"agents": ["ping", "pong"], "max_handoffs": 2}
    agents["networks"]["adders"] = {"agents": ["adder"]}
    agents["networks"]["needs_broken"] = {"agents": ["adder", "broken"]}
    path = root / "agents.yaml"
    path.write_text(yaml.safe_dump(agents))
    return path


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    root = tmp_path_factory.mktemp("support")
    registry = yaml.safe_load((REPO / "specs" / "registry.yaml").read_text())
    registry["tools"]["issues"]["waits"] = {
        "createIssue": {
            "event": "developer.response",
            "match": {"ticketId": "input.ticketId"},
            "timeout_seconds": WAIT_SECONDS,
        }
    }
    registry_path = root / "registry.yaml"
    registry_path.write_text(yaml.safe_dump(registry))
    running = start_mesh(
        root,
        gateway_env={"TOOLMESH_GATEWAY_CONFIG": str(scripted_gateway_config(root, SCRIPTS))},
        registry=registry_path,
        host_env={"TOOLMESH_AGENTS": str(_agents_file(root))},
    )
    try:
        yield running
    finally:
        running.stop()


def _ticket(ticket: str, task: str, **extra: Any) -> dict[str, Any]:
    return {
        "objective": f"Resolve support ticket {ticket}",
        "initial_tasks": [task],
        "network": "support",
        "model": "support",
        "inputs": {"ticketId": ticket},
        **extra,
    }


def _event_wait(view: dict[str, Any]) -> dict[str, Any] | None:
    for sub in (view.get("progress") or {}).get("sub_runs") or []:
        for wait in (sub.get("progress") or {}).get("waiting") or []:
            if wait.get("kind") == "event":
                return {**wait, "sub_run": sub["id"], "agent": sub["agent"]}
    return None


def _post_event(mesh: Mesh, name: str, data: dict[str, Any]) -> dict[str, Any]:
    with mesh.api() as api:
        response = api.post("/api/events", json={"name": name, "data": data})
    assert response.status_code == 202, response.text
    return dict(response.json())


def test_the_support_network_routes_waits_for_the_developer_and_survives_a_host_crash(mesh: Mesh) -> None:
    first = mesh.start_run(_ticket("T-1", "Help the customer who cannot log in"))
    second = mesh.start_run(_ticket("T-2", "Diagnose the crash on the settings page"))
    waits = {run: mesh.wait(run, until=lambda v: _event_wait(v) is not None, timeout=60) for run in (first, second)}
    wait = _event_wait(waits[first])
    assert wait is not None and wait["agent"] == "technical_support"
    assert wait["event"] == "developer.response" and wait["match"] == {"ticketId": "T-1"}

    # An answer on another ticket wakes nobody.
    other = _post_event(mesh, "developer.response", {"ticketId": "T-3", "answer": "wrong ticket"})
    assert other["delivered_to"] == []

    assert mesh.host is not None
    mesh.host.kill()
    mesh.start_host()
    answer = _post_event(mesh, "developer.response", {"ticketId": "T-1", "answer": "fixed in 2.3"})
    assert [d["run_id"] for d in answer["delivered_to"]] == [wait["sub_run"]]

    report = mesh.wait(first, timeout=90)["output"]
    assert report["outcome"] == "completed", report
    task = report["tasks"][0]
    assert task["route"] == {"agent": "customer_support", "reason": "an account question", "by": "model"}
    assert task["handoffs"] == [
        {"from": "customer_support", "to": "technical_support", "reason": "login fails with an error"}
    ]
    assert task["agent"] == "technical_support"
    assert task["result"] == "The developers say it is fixed in 2.3; told the customer"
    assert [c["function"] for c in task["tool_calls"]] == ["handoff_to_agent", "createIssue"]
    assert any("routed to customer_support (model)" in e for e in report["events"])

    # The second ticket's rule-routed wait times out, and the model is told there was no answer.
    late = mesh.wait(second, timeout=WAIT_SECONDS + 60)["output"]
    task = late["tasks"][0]
    assert task["route"]["by"] == "rule" and task["agent"] == "technical_support", task
    assert "crash" in task["route"]["reason"]
    assert task["result"] == "No answer from the developers yet; told the customer we are on it"
    assert task["tool_calls"] == [{"function": "createIssue", "ok": False, "status": 201}]


def test_an_event_posted_before_the_wait_starts_is_kept_and_delivered(mesh: Mesh) -> None:
    early = _post_event(mesh, "developer.response", {"ticketId": "T-7", "answer": "fixed in 2.3 already"})
    assert early["delivered_to"] == [] and early["kept_until"]
    run_id = mesh.start_run(_ticket("T-7", "Diagnose the crash when saving"))
    report = mesh.wait(run_id, timeout=60)["output"]
    task = report["tasks"][0]
    assert task["result"] == "The developers say it is fixed in 2.3; told the customer", report
    assert task["tool_calls"] == [{"function": "createIssue", "ok": True, "status": 201}]


def test_a_rule_overrides_the_routing_model(mesh: Mesh) -> None:
    run_id = mesh.start_run(_ticket("T-8", "Explain the error on the invoice page"))
    view = mesh.wait(run_id, until=lambda v: _event_wait(v) is not None, timeout=60)
    assert _event_wait(view)["agent"] == "technical_support"  # type: ignore[index]
    with mesh.api() as api:
        api.post(f"/api/runs/{run_id}/cancel")
    report = mesh.wait(run_id, timeout=60)["output"]
    assert report["outcome"] == "cancelled"
    assert any("routed to technical_support (rule)" in e and "'error'" in e for e in report["events"]), report


def test_cancel_reaches_a_sub_orchestration_in_flight(mesh: Mesh) -> None:
    run_id = mesh.start_run(_ticket("T-9", "Diagnose the crash at startup"))
    wait = _event_wait(mesh.wait(run_id, until=lambda v: _event_wait(v) is not None, timeout=60))
    assert wait is not None
    with mesh.api() as api:
        assert api.post(f"/api/runs/{run_id}/cancel").status_code == 202
        report = mesh.wait(run_id, timeout=60)["output"]
        assert report["outcome"] == "cancelled"
        deadline = time.monotonic() + 30
        while True:
            child = api.get(f"/runtime/webhooks/durabletask/instances/{wait['sub_run']}").json()
            if child["runtimeStatus"] in FINISHED or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert child["runtimeStatus"] == "Completed", child
    assert child["output"]["outcome"] == "cancelled" and child["output"]["agent"] == "technical_support"


def test_a_handoff_loop_is_stopped_by_its_bound(mesh: Mesh) -> None:
    run_id = mesh.start_run(
        {"objective": "Ping pong", "initial_tasks": ["Decide who does it"], "network": "pingpong", "model": "pingpong"}
    )
    report = mesh.wait(run_id, timeout=90)["output"]
    task = report["tasks"][0]
    assert [(h["from"], h["to"]) for h in task["handoffs"]] == [("ping", "pong"), ("pong", "ping")]
    assert task["agent"] == "ping" and task["result"] == "Finished it myself"
    assert [c["ok"] for c in task["tool_calls"]] == [True, True, False]
    assert any("refused" in e for e in report["events"]), report["events"]


def test_usage_and_budgets_roll_up_from_sub_orchestrations(mesh: Mesh) -> None:
    body = {
        "objective": "Add twice",
        "initial_tasks": ["Add one and one", "Add it again"],
        "network": "adders",
        "model": "adder",
        "budgets": {"max_tool_calls": 1},
    }
    report = mesh.wait(mesh.start_run(body), timeout=90)["output"]
    assert report["stop_reason"] == "max_tool_calls", report  # the sub-run's call counted against the run
    assert [t["task"] for t in report["tasks"]] == ["Add one and one"]
    assert report["tasks"][0]["route"]["by"] == "model" and report["tasks"][0]["agent"] == "adder"
    usage = report["usage"]
    # route + 2 execute steps in the sub-run + create_tasks + summarize, 15 tokens each
    assert usage["tool_calls"] == 1
    assert usage["llm_calls"] == 5, usage
    assert usage["total_tokens"] == 5 * 15


def test_an_invalid_agents_entry_fails_alone_with_a_clear_message(mesh: Mesh) -> None:
    with mesh.api() as api:
        config = api.get("/api/agents").json()
        problems = {(p["kind"], p["name"]): p["message"] for p in config["problems"]}
        assert "broken" not in config["agents"] and "adder" in config["agents"]
        assert "description" in problems[("agent", "broken")] and "colour" in problems[("agent", "broken")]
        assert "broken" in problems[("network", "needs_broken")]
        refused = api.post("/api/runs", json={"objective": "x", "agent": "broken"})
        assert refused.status_code == 400
        assert refused.json()["error"]["field"] == "agent"
        assert "invalid" in refused.json()["error"]["message"]
        unknown = api.post("/api/runs", json={"objective": "x", "network": "nope"})
        assert unknown.status_code == 400 and "no network named 'nope'" in unknown.json()["error"]["message"]
    run_id = mesh.start_run(
        {"objective": "Add", "initial_tasks": ["Add one and one"], "agent": "adder", "model": "adder"}
    )
    report = mesh.wait(run_id, timeout=60)["output"]
    assert report["outcome"] == "completed" and report["tasks"][0]["result"] == "2", report
