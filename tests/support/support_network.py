"""A support desk as a network of agents on the real mesh: scripted model answers, agents, and a registry wait.

Tickets are runs of the ``support`` network of specs/agents.yaml: the router sends each task to
customer_support or technical_support; the technical agent files an issue, and the registry
declares that createIssue waits for ``developer.response`` matched on the run's ticketId. The
registry gives that wait no timeout, so each ticket's run sets its own (``ticket(..., wait_seconds=)``;
a week by default): a ticket meant to be answered never times out on a slow machine, and one meant
to time out does so quickly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.support.local_mesh import Mesh, scripted_gateway_config, start_mesh

__all__ = ["WAIT_SECONDS", "event_wait", "start_support_mesh", "ticket"]

REPO = Path(__file__).parents[2]
WAIT_SECONDS = 30
"""How long a ticket meant to time out waits for the developer's answer."""
USAGE = {"prompt_tokens": 10, "completion_tokens": 5}


def _entry(match: dict[str, Any], **respond: Any) -> dict[str, Any]:
    return {"match": match, "respond": {"usage": USAGE, **respond}}


def _wait_for(ticket_id: str, seconds: int) -> dict[str, Any]:
    return {"event": "developer.response", "match": {"ticketId": ticket_id}, "timeout_seconds": seconds}


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
    # Told to wait for the developers directly: the built-in wait_for_event instead of filing an issue.
    _entry(
        {"step": "execute_task", "agent": "technical_support", "task_contains": "bug W1", "tool_messages": 0},
        tool_calls=[{"name": "wait_for_event", "arguments": _wait_for("T-W1", 60)}],
    ),
    _entry(
        {"step": "execute_task", "agent": "technical_support", "task_contains": "bug W2", "tool_messages": 0},
        tool_calls=[{"name": "wait_for_event", "arguments": _wait_for("T-W2", 2)}],
    ),
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
    agents["agents"]["careful_adder"] = {
        "description": "Adds numbers, with a person's approval.",
        "tools": ["evaluateExpression"],
        "approval": {"evaluateExpression": "always"},
    }
    agents["networks"]["adders"] = {"agents": ["adder"]}
    agents["networks"]["careful"] = {
        "agents": ["careful_adder"],
        "router": {"rules": [{"agent": "careful_adder", "keywords": ["add"]}]},
    }
    agents["networks"]["needs_broken"] = {"agents": ["adder", "broken"]}
    path = root / "agents.yaml"
    path.write_text(yaml.safe_dump(agents))
    return path


def start_support_mesh(root: Path) -> Mesh:
    registry = yaml.safe_load((REPO / "specs" / "registry.yaml").read_text())
    registry["tools"]["issues"]["waits"] = {
        "createIssue": {
            "event": "developer.response",
            "match": {"ticketId": "input.ticketId"},
        }
    }
    registry_path = root / "registry.yaml"
    registry_path.write_text(yaml.safe_dump(registry))
    return start_mesh(
        root,
        gateway_env={"TOOLMESH_GATEWAY_CONFIG": str(scripted_gateway_config(root, SCRIPTS))},
        registry=registry_path,
        host_env={"TOOLMESH_AGENTS": str(_agents_file(root))},
    )


def ticket(ticket_id: str, task: str, wait_seconds: int | None = None, **extra: Any) -> dict[str, Any]:
    """A ticket run of the support network, with the ticket id as the run's input.

    ``wait_seconds`` bounds its wait for the developer's answer (the run's callback timeout).
    """
    options = {"callback_timeout_seconds": wait_seconds} if wait_seconds is not None else {}
    return {
        "objective": f"Resolve support ticket {ticket_id}",
        "initial_tasks": [task],
        "network": "support",
        "model": "support",
        "inputs": {"ticketId": ticket_id},
        "options": options,
        **extra,
    }


def event_wait(view: dict[str, Any]) -> dict[str, Any] | None:
    """The first outside-event wait of a run's sub-runs, with the sub-run's id and agent."""
    for sub in (view.get("progress") or {}).get("sub_runs") or []:
        for wait in (sub.get("progress") or {}).get("waiting") or []:
            if wait.get("kind") == "event":
                return {**wait, "sub_run": sub["id"], "agent": sub["agent"]}
    return None
