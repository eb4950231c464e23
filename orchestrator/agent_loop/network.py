"""Networks of agents: the router picks an agent per task, which runs it as a sub-orchestration.

The run (the parent) keeps planning as before. For each task it asks the router: a rule of the
network's config when one matches, else the routing model step; the choice and its reason go on
the task. The chosen agent executes the task as a sub-orchestration (``agent_task``) with its
own history, tools, model and budgets (what is left of the run's, capped by the agent's), and
hands back its result, usage and tool calls, which roll up into the run. An agent may hand the
task to another agent of the network (the built-in ``handoff_to_agent`` function); the parent
starts that agent next, up to the network's ``max_handoffs`` per task, after which the function
answers the model that no handoff is left. Sub-run ids are deterministic (run, task, hop), so a
replay or a crash never starts one twice; cancel and approvals reach them through the run API,
which finds them in the run's progress (``sub_runs``). The ids of the outside events the run took
go to each sub-run and come back with what it took, so a kept event answers one wait of the run,
not one per agent or task.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import asdict, fields
from typing import Any

import azure.durable_functions as df

from openapi_engine import ToolFunction

from . import agent_setup
from .agents import AgentConfig, AgentSpec, NetworkSpec
from .event_waiting import SEEN_KEPT, remember_events
from .live_progress import RunEvents
from .orchestration import AgentRun, ModelStepFailed, RunCancelled
from .planning import one_line
from .routing import parse_route, route_by_rules, routing_messages
from .run_request import Budgets, RunRequest
from .state import CallRecord, Task

__all__ = ["AGENT_TASK_ORCHESTRATOR", "HANDOFF_FUNCTION", "bp", "execute_routed", "sub_run_id"]

AGENT_TASK_ORCHESTRATOR = "agent_task"
HANDOFF_FUNCTION = "handoff_to_agent"

bp = df.Blueprint()

Steps = Generator[Any, Any, Any]


def sub_run_id(run_id: str, task_id: int, hop: int) -> str:
    return f"{run_id}-task{task_id}-{hop}"


def _remaining(request: RunRequest, used_tool_calls: int, used_tokens: int, used_cost: float) -> RunRequest:
    """The run's request with what is left of its tool-call and token budgets (the floor is each field's minimum)."""
    budgets = request.budgets.model_dump()
    budgets["max_tool_calls"] = max(1, budgets["max_tool_calls"] - used_tool_calls)
    budgets["max_tokens"] = max(1000, budgets["max_tokens"] - used_tokens)
    if budgets.get("max_cost") is not None:
        budgets["max_cost"] = max(1e-9, budgets["max_cost"] - used_cost)
    return request.model_copy(update={"budgets": Budgets.model_validate(budgets)})


def execute_routed(run: AgentRun, task: Task, context: list[str]) -> Steps:
    """Route ``task`` and run it by the chosen agent, following handoffs; the result lands on ``task``."""
    assert run.agents is not None and run.request.network is not None
    agents: AgentConfig = run.agents
    network = agents.networks[run.request.network]
    route = route_by_rules(network, task.task, list(run.request.tags))
    if route is None:
        objective = run.request.objective
        answer = yield from run._model(
            "route",
            lambda: routing_messages(objective, task.task, network, agents.agents),
            task=task,
            model=network.router.model,
        )
        route = parse_route(answer.content, network)
    task.route = {"agent": route.agent, "reason": route.reason, "by": route.by}
    run.state.events.append(f"task {task.id} routed to {route.agent} ({route.by}): {route.reason}")
    agent, hop, handed = route.agent, 0, ""
    while True:
        task.agent = agent
        outcome = yield from _run_agent(run, task, network, agents.agents[agent], context, handed, hop)
        handoff = outcome.get("handoff")
        if not handoff:
            task.result = outcome.get("result")
            return
        task.handoffs.append({"from": agent, "to": handoff["to"], "reason": handoff["reason"]})
        run.state.events.append(f"task {task.id} handed off from {agent} to {handoff['to']}: {handoff['reason']}")
        handed = f"handed over by {agent}: {handoff['reason']}" + (f" ({handoff['note']})" if handoff["note"] else "")
        agent, hop = handoff["to"], hop + 1


def _run_agent(
    run: AgentRun, task: Task, network: NetworkSpec, agent: AgentSpec, context: list[str], handed: str, hop: int
) -> Steps:
    usage = run.state.usage
    request = _remaining(run.request, usage.tool_calls, usage.total_tokens, usage.cost_usd)
    payload = {
        "request": request.model_dump(mode="json"),
        "started_at": run.state.started_at,
        "agent": agent.model_dump(mode="json"),
        "task": {"id": task.id, "task": task.task},
        "context": [*context, handed] if handed else context,
        "peers": [
            {"name": name, "description": run.agents.agents[name].description}  # type: ignore[union-attr]
            for name in network.agents
            if name != agent.name
        ],
        "stream": run.events.stream,
        "handoffs_left": network.max_handoffs - hop,
        "max_handoffs": network.max_handoffs,
        # The events the run took already: a kept event answers one wait of the run, not one per sub-run.
        "seen_events": run.state.seen_events[-SEEN_KEPT:],
    }
    child_id = sub_run_id(run.state.run_id, task.id, hop)
    entry = {"id": child_id, "agent": agent.name, "task_id": task.id, "hop": hop}
    run.sub_runs.append(entry)
    run._status("executing", task)
    try:
        outcome: dict[str, Any] = yield from run._guarded(
            run.context.call_sub_orchestrator(AGENT_TASK_ORCHESTRATOR, payload, child_id)
        )
    except RunCancelled:
        raise
    except Exception as exc:  # the sub-orchestration failed: the task fails, the run goes on
        outcome = {"result": f"error: the {agent.name} agent failed: {one_line(str(exc), 300)}"}
    finally:
        run.sub_runs.remove(entry)
    child_usage = outcome.get("usage") or {}
    for counter in fields(usage):  # every counter, the cost included, adds up into the run's
        mine = getattr(usage, counter.name)
        setattr(usage, counter.name, mine + type(mine)(child_usage.get(counter.name) or 0))
    task.tool_calls.extend(CallRecord(**call) for call in outcome.get("tool_calls") or [])
    remember_events(run.state.seen_events, [str(e) for e in outcome.get("seen_events") or []])
    task.failures.extend(str(failure) for failure in outcome.get("failures") or [])
    run.state.events.extend(f"{agent.name}: {event}" for event in outcome.get("events") or [])
    return outcome


# -- the sub-orchestration -------------------------------------------------------------------


def handoff_function(peers: list[dict[str, str]]) -> ToolFunction:
    described = "; ".join(f"{p['name']}: {p['description']}" for p in peers)
    return ToolFunction(
        name=HANDOFF_FUNCTION,
        tool="toolmesh",
        operation_id=HANDOFF_FUNCTION,
        method="HANDOFF",
        path="",
        description=f"Hand this task to another agent better suited to it, and stop working on it. Agents: {described}",
        parameters={
            "type": "object",
            "properties": {
                "agent": {"type": "string", "enum": [p["name"] for p in peers]},
                "reason": {"type": "string", "maxLength": 500, "description": "Why that agent should take it."},
                "note": {"type": "string", "maxLength": 2000, "description": "What it should know."},
            },
            "required": ["agent", "reason"],
            "additionalProperties": False,
        },
    )


def handoff_requested(run: AgentRun, task: Task, call_id: str, arguments: dict[str, Any]) -> Steps:
    """The built-in handoff: ends the task for this agent, or says no handoff is left."""
    yield from ()
    assert isinstance(run, AgentTaskRun)
    if run.handoffs_left <= 0:
        run.state.events.append(f"handoff to {arguments['agent']} refused: the bound of {run.max_handoffs} is reached")
        return (
            f"error: no handoff is left for this task (the network allows {run.max_handoffs}); "
            "finish the task yourself with the tools you have",
            False,
        )
    reason = one_line(str(arguments.get("reason") or ""), 300)
    run.handoff = {"to": str(arguments["agent"]), "reason": reason, "note": str(arguments.get("note") or "")}
    run.task_ended = f"handed off to {arguments['agent']}: {reason}"
    return f"the task is now with {arguments['agent']}", True


class AgentTaskRun(AgentRun):
    """One agent of a network executing one task, in its own sub-orchestration."""

    def __init__(self, context: df.DurableOrchestrationContext, payload: dict[str, Any]) -> None:
        super().__init__(context, payload["request"])
        self.events = RunEvents(context, self.state, payload.get("stream"))
        self.takes_messages = False  # people's messages go to the network's run, not to its sub-runs
        self.payload = payload
        self.state.started_at = payload["started_at"]  # the run's deadline holds here too
        self.handoffs_left = int(payload["handoffs_left"])
        self.max_handoffs = int(payload["max_handoffs"])
        self.handoff: dict[str, str] | None = None
        self.state.seen_events = [str(e) for e in payload.get("seen_events") or []]

    def run(self) -> Steps:
        payload = self.payload
        agent_setup.take_on_agent(self, AgentSpec.model_validate(payload["agent"]))
        if payload["peers"]:
            self.builtins[HANDOFF_FUNCTION] = (handoff_function(payload["peers"]), handoff_requested)
        task = Task(id=int(payload["task"]["id"]), task=str(payload["task"]["task"]))
        outcome = "completed"
        self._status("executing", task)
        try:
            yield from self._load_catalog()
            yield from self._run_task(task, list(payload["context"]))
        except RunCancelled:
            outcome = "cancelled"
            task.result = task.result or "cancelled before the task was done"
        except ModelStepFailed as exc:
            outcome = "failed"
            task.result = f"error: {exc}"
        self.approvals, self.waiting, self.retrying = [], [], []
        self._status("done", task)
        try:
            yield from self._flush_events()
        except RunCancelled:
            pass  # cancelled again while publishing: the events are only lost to watchers
        return {
            "outcome": outcome,
            "agent": self.agent.name if self.agent else None,
            "result": task.result,
            "handoff": self.handoff,
            "tool_calls": [asdict(call) for call in task.tool_calls],
            "failures": task.failures,
            "usage": asdict(self.state.usage),
            "events": self.state.events,
            "seen_events": self.state.seen_events,
        }


@bp.orchestration_trigger(context_name="context")
def agent_task(context: df.DurableOrchestrationContext) -> Steps:
    """An agent of a network on one task: task in, result, usage and any handoff out."""
    return (yield from AgentTaskRun(context, context.get_input() or {}).run())
