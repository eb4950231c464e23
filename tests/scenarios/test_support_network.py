"""The support network through the real mesh on the local host (scripted model): routing, handoffs,
waits for the developer's answer matched on the ticket, a host crash, timeouts, cancel and budgets.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.support.local_mesh import FINISHED, Mesh
from tests.support.support_network import WAIT_SECONDS, event_wait, start_support_mesh, ticket
from toolmesh_cli.main import app


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    running = start_support_mesh(tmp_path_factory.mktemp("support"))
    try:
        yield running
    finally:
        running.stop()


def _post_event(mesh: Mesh, name: str, data: dict[str, Any]) -> dict[str, Any]:
    with mesh.api() as api:
        response = api.post("/api/events", json={"name": name, "data": data})
    assert response.status_code == 202, response.text
    return dict(response.json())


def test_the_support_network_routes_waits_for_the_developer_and_survives_a_host_crash(mesh: Mesh) -> None:
    first = mesh.start_run(ticket("T-1", "Help the customer who cannot log in"))
    second = mesh.start_run(ticket("T-2", "Diagnose the crash on the settings page", wait_seconds=WAIT_SECONDS))
    wait = event_wait(mesh.wait(first, until=lambda v: event_wait(v) is not None, timeout=60))
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
    run_id = mesh.start_run(ticket("T-7", "Diagnose the crash when saving"))
    report = mesh.wait(run_id, timeout=60)["output"]
    task = report["tasks"][0]
    assert task["result"] == "The developers say it is fixed in 2.3; told the customer", report
    assert task["tool_calls"] == [{"function": "createIssue", "ok": True, "status": 201}]


def test_an_event_one_sub_run_took_does_not_answer_the_next_task_of_the_run(mesh: Mesh) -> None:
    # Both tasks go to technical_support (rule) as separate sub-runs, each waiting on the same ticket.
    body = ticket("T-4", "", initial_tasks=["Diagnose the crash when saving", "Diagnose the error when loading"])
    run_id = mesh.start_run(body)
    first = event_wait(mesh.wait(run_id, until=lambda v: event_wait(v) is not None, timeout=60))
    assert first is not None and "-task1-" in first["sub_run"]
    _post_event(mesh, "developer.response", {"ticketId": "T-4", "answer": "fixed in 2.3"})

    # The first answer is still kept for later waits, but this run took it: task 2 waits for its own.
    def second_waits(view: dict[str, Any]) -> bool:
        wait = event_wait(view)
        return view["status"] in FINISHED or (wait is not None and "-task2-" in wait["sub_run"])

    view = mesh.wait(run_id, until=second_waits, timeout=60)
    assert view["status"] not in FINISHED, view.get("output")
    answer = _post_event(mesh, "developer.response", {"ticketId": "T-4", "answer": "a second answer"})
    assert len(answer["delivered_to"]) == 1 and "-task2-" in answer["delivered_to"][0]["run_id"]
    report = mesh.wait(run_id, timeout=60)["output"]
    results = [t["result"] for t in report["tasks"]]
    assert results == ["The developers say it is fixed in 2.3; told the customer", "Got an answer"], report


def test_an_agent_waits_with_the_built_in_wait_for_event_and_is_told_when_none_came(mesh: Mesh) -> None:
    answered = mesh.start_run(ticket("T-W1", "Wait for the developers on bug W1"))
    quiet = mesh.start_run(ticket("T-W2", "Wait for the developers on bug W2"))
    wait = event_wait(mesh.wait(answered, until=lambda v: event_wait(v) is not None, timeout=60))
    assert wait is not None and wait["function"] == "wait_for_event", wait
    assert wait["event"] == "developer.response" and wait["match"] == {"ticketId": "T-W1"}
    answer = _post_event(mesh, "developer.response", {"ticketId": "T-W1", "answer": "fixed in 2.3"})
    assert [d["run_id"] for d in answer["delivered_to"]] == [wait["sub_run"]]
    task = mesh.wait(answered, timeout=60)["output"]["tasks"][0]
    assert task["result"] == "The developers say it is fixed in 2.3; told the customer", task
    assert [(c["function"], c["ok"]) for c in task["tool_calls"]] == [("wait_for_event", True)]

    task = mesh.wait(quiet, timeout=60)["output"]["tasks"][0]
    assert task["result"] == "No answer from the developers yet; told the customer we are on it", task
    assert [(c["function"], c["ok"]) for c in task["tool_calls"]] == [("wait_for_event", False)]


def test_a_rule_overrides_the_routing_model(mesh: Mesh) -> None:
    run_id = mesh.start_run(ticket("T-8", "Explain the error on the invoice page"))
    view = mesh.wait(run_id, until=lambda v: event_wait(v) is not None, timeout=60)
    assert event_wait(view)["agent"] == "technical_support"  # type: ignore[index]
    with mesh.api() as api:
        api.post(f"/api/runs/{run_id}/cancel")
    report = mesh.wait(run_id, timeout=60)["output"]
    assert report["outcome"] == "cancelled"
    assert any("routed to technical_support (rule)" in e and "'error'" in e for e in report["events"]), report


def test_cancel_reaches_a_sub_orchestration_in_flight(mesh: Mesh) -> None:
    run_id = mesh.start_run(ticket("T-9", "Diagnose the crash at startup"))
    wait = event_wait(mesh.wait(run_id, until=lambda v: event_wait(v) is not None, timeout=60))
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


def _toolmesh(mesh: Mesh, tmp_path: Path, *args: str) -> str:
    result = CliRunner().invoke(
        app,
        ["--url", mesh.url, "--key", mesh.keys["functions"], "--state-dir", str(tmp_path), *args],
        catch_exceptions=False,
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_the_cli_shows_agents_routing_and_waits_and_posts_the_event(mesh: Mesh, tmp_path: Path) -> None:
    assert "technical_support" in _toolmesh(mesh, tmp_path, "agents")
    run_id = mesh.start_run(ticket("T-C1", "Help the customer who cannot log in"))
    mesh.wait(run_id, until=lambda v: event_wait(v) is not None, timeout=60)
    shown = _toolmesh(mesh, tmp_path, "show", run_id)
    assert "routed task 1 → customer_support (model): an account question" in shown
    assert 'waiting for event developer.response where {"ticketId":"T-C1"}' in shown
    posted = _toolmesh(mesh, tmp_path, "event", "developer.response", '{"ticketId": "T-C1", "answer": "fixed in 2.3"}')
    assert "delivered to 1 wait(s)" in posted
    mesh.wait(run_id, timeout=60)
    done = _toolmesh(mesh, tmp_path, "show", run_id)
    assert "handoff task 1: customer_support → technical_support" in done
    assert "customer_support → technical_support" in done


def test_an_approval_asked_in_a_sub_run_is_answered_on_the_run(mesh: Mesh) -> None:
    run_id = mesh.start_run(
        {"objective": "Add", "initial_tasks": ["Add one and one"], "network": "careful", "model": "adder"}
    )

    def asking(view: dict[str, Any]) -> bool:
        subs = (view.get("progress") or {}).get("sub_runs") or []
        return any((s.get("progress") or {}).get("approvals") for s in subs)

    view = mesh.wait(run_id, until=asking, timeout=60)
    approval = view["progress"]["sub_runs"][0]["progress"]["approvals"][0]
    assert approval["function"] == "evaluateExpression"
    with mesh.api() as api:
        assert api.post(f"/api/runs/{run_id}/approvals/nope", json={"approve": True}).status_code == 404
        decided = api.post(f"/api/runs/{run_id}/approvals/{approval['call_id']}", json={"approve": True})
        assert decided.status_code == 202, decided.text
    report = mesh.wait(run_id, timeout=60)["output"]
    assert report["tasks"][0]["agent"] == "careful_adder" and report["tasks"][0]["result"] == "2", report
    assert report["tasks"][0]["tool_calls"] == [{"function": "evaluateExpression", "ok": True, "status": 200}]
