"""What the terminal shows for network runs (agents, routing, handoffs, sub-runs, event waits) and schedules."""

from __future__ import annotations

from typing import Any

from rich.console import Console, RenderableType

from toolmesh_cli.render import render_agents, render_run, render_schedules
from toolmesh_cli.schemas import RunStatus, Schedule

PROGRESS: dict[str, Any] = {
    "phase": "executing",
    "iteration": 1,
    "current_task": {
        "id": 2,
        "task": "Diagnose the crash",
        "agent": "technical_support",
        "route": {"agent": "technical_support", "reason": "rule 1: the task mentions 'crash'", "by": "rule"},
        "handoffs": [],
    },
    "done": [
        {
            "id": 1,
            "task": "Help the customer",
            "result": "done",
            "agent": "technical_support",
            "route": {"agent": "customer_support", "reason": "an account question", "by": "model"},
            "handoffs": [{"from": "customer_support", "to": "technical_support", "reason": "a defect"}],
        }
    ],
    "sub_runs": [
        {
            "id": "r1-task2-0",
            "agent": "technical_support",
            "task_id": 2,
            "hop": 0,
            "status": "Running",
            "progress": {
                "phase": "waiting",
                "waiting": [
                    {
                        "call_id": "c2-0-0",
                        "kind": "event",
                        "function": "createIssue",
                        "event": "developer.response",
                        "match": {"ticketId": "T-1"},
                        "expires_at": "2026-01-01T04:00:00+00:00",
                    }
                ],
                "approvals": [{"call_id": "c2-0-1", "function": "sendMessage", "arguments": {"to": "x"}}],
            },
        }
    ],
}


def _text(renderable: RenderableType) -> str:
    console = Console(record=True, width=200)
    console.print(renderable)
    return console.export_text()


def test_a_network_run_shows_agents_routing_handoffs_and_its_sub_runs_as_a_tree() -> None:
    text = _text(render_run(RunStatus.model_validate({"id": "r1", "status": "Running", "progress": PROGRESS})))
    assert "customer_support → technical_support" in text  # the agent column follows the handoff
    assert "task 1 → customer_support (model): an account question" in text
    assert "task 2 → technical_support (rule): rule 1: the task mentions 'crash'" in text
    assert "handoff task 1: customer_support → technical_support: a defect" in text
    assert "task 2 · technical_support · Running waiting  (r1-task2-0)" in text
    assert 'waiting for event developer.response where {"ticketId":"T-1"}' in text
    assert "toolmesh event developer.response" in text
    assert "toolmesh approve r1 c2-0-1" in text  # approvals in a sub-run are answered on the run


def test_a_finished_network_run_keeps_its_routing_in_the_view() -> None:
    output = {
        "outcome": "completed",
        "stop_reason": "objective_met",
        "tasks": [{**PROGRESS["done"][0], "tool_calls": []}],
    }
    text = _text(render_run(RunStatus.model_validate({"id": "r1", "status": "Completed", "output": output})))
    assert "task 1 → customer_support (model)" in text and "handoff task 1" in text


def test_schedules_and_agents_render() -> None:
    schedule = Schedule.model_validate(
        {"id": "nightly", "cron": "0 2 * * *", "paused": True, "runs_started": 3, "missed": 1, "objective": "x"}
    )
    text = _text(render_schedules([schedule]))
    assert "nightly" in text and "0 2 * * *" in text and "paused" in text
    config = {
        "agents": {"a": {"description": "Does a.", "tools": ["calc"], "events": ["e.x"]}},
        "networks": {
            "n": {"agents": ["a"], "router": {"rules": [{"agent": "a", "keywords": ["sum"]}]}, "max_handoffs": 2}
        },
        "problems": [{"kind": "agent", "name": "bad", "message": "description: too short"}],
    }
    text = _text(render_agents(config))
    assert "Does a." in text and "sum → a" in text and "problem: agent bad: description: too short" in text
