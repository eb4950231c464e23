"""How a run takes on the agent or network it names.

The ``read_agents`` activity reads specs/agents.yaml afresh; its answer lives in history, so
replays see the same agents. :func:`load_agents` (orchestrator side) applies the named agent to
the run: its tools, model, budgets and approval overrides, its instructions in the task
prompt, and the built-in wait_for_event function when it lists events it may wait for.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import azure.durable_functions as df

from .activity_contracts import ReadAgentsInput
from .agents import AgentConfig, AgentSpec, apply_agent, load_agent_config
from .event_waiting import WAIT_FUNCTION, wait_for_event_function, wait_requested
from .settings import get_settings

if TYPE_CHECKING:
    from .orchestration import AgentRun

__all__ = ["bp", "load_agents", "read_agents", "take_on_agent", "unknown"]

bp = df.Blueprint()

Steps = Generator[Any, Any, Any]


@bp.activity_trigger(input_name="payload")
def read_agents(payload: dict[str, Any]) -> dict[str, Any]:
    """The agents and networks as they are now, with a problem for each bad entry."""
    ReadAgentsInput.parse(payload)
    return load_agent_config(get_settings().agents_path).to_dict()


def unknown(config: AgentConfig, kind: str, name: str) -> str:
    """Why ``name`` cannot be used: its entry's problem, or that it is not defined."""
    problem = config.problem_for(kind, name)
    if problem is not None:
        return f"{kind} {name!r} in the agents file is invalid: {problem.message}"
    known = sorted(config.agents if kind == "agent" else config.networks)
    return f"there is no {kind} named {name!r}; defined: {', '.join(known) or 'none'}"


def take_on_agent(run: AgentRun, agent: AgentSpec) -> None:
    """Make ``run`` execute as ``agent``: its request, its prompt, its built-in functions."""
    run.agent = agent
    run.request = apply_agent(run.request, agent)
    if agent.events:
        run.builtins[WAIT_FUNCTION] = (wait_for_event_function(agent.events), wait_requested)


def load_agents(run: AgentRun) -> Steps:
    """Read the agents file (an activity) and take on the run's agent; a problem text if it cannot."""
    raw = yield from run._activity(read_agents, ReadAgentsInput(read=True).payload())
    config = AgentConfig.from_dict(raw)
    run.agents = config
    if run.request.agent is not None:
        agent = config.agents.get(run.request.agent)
        if agent is None:
            return unknown(config, "agent", run.request.agent)
        take_on_agent(run, agent)
    if run.request.network is not None and run.request.network not in config.networks:
        return unknown(config, "network", run.request.network)
    return None
