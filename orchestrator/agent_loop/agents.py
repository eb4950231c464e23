"""Agents and networks as configuration: ``specs/agents.yaml``, read afresh like the registry.

An agent is a name with a description (what a router reads), instructions (added to its task
prompt), the tools it may use (registry names, tags or function names), a model alias, budgets
and approval overrides. A network is a set of agents and a router: deterministic rules by
keyword or run tag, else a routing model step. Each entry is validated on its own, so one bad
entry is a problem with a clear message and the others still load. The built-in ``default``
agent is today's single agent: every tool, the run's model and budgets.

The loaded configuration is plain data (``AgentConfig.to_dict``) so a run keeps it in history.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from .run_request import Budgets, RunRequest

__all__ = [
    "DEFAULT_AGENT",
    "AgentConfig",
    "AgentSpec",
    "ConfigProblem",
    "NetworkSpec",
    "RouteRule",
    "apply_agent",
    "load_agent_config",
    "parse_agent_config",
]

DEFAULT_AGENT = "default"

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
EventName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgentBudgets(_Strict):
    """Per-task limits for the agent's work; the run's own budgets still bound the whole run."""

    max_tool_calls_per_task: int | None = Field(default=None, ge=1, le=50)
    max_tool_calls: int | None = Field(default=None, ge=1, le=1000)
    max_tokens: int | None = Field(default=None, ge=1000, le=5_000_000)


class AgentSpec(_Strict):
    name: Name
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
    instructions: Annotated[str, StringConstraints(max_length=8000)] = ""
    tools: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] | None = None
    """Registry tool names, tags or function names; None: every registered tool."""
    model: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    """A gateway model alias; None: the run's model."""
    budgets: AgentBudgets = Field(default_factory=AgentBudgets)
    approval: dict[str, Literal["always", "never", "default"]] = Field(default_factory=dict)
    events: list[EventName] = Field(default_factory=list, max_length=20)
    """Outside events the agent may wait for with the built-in wait_for_event function."""


class RouteRule(_Strict):
    """Send a task to ``agent`` when its text has one of ``keywords`` or the run has one of ``tags``."""

    agent: Name
    keywords: list[Word] = Field(default_factory=list, max_length=100)
    tags: list[Word] = Field(default_factory=list, max_length=100)


class RouterSpec(_Strict):
    model: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    """The alias of the routing model step; None: the run's model."""
    rules: list[RouteRule] = Field(default_factory=list, max_length=100)


class NetworkSpec(_Strict):
    name: Name
    description: Annotated[str, StringConstraints(max_length=1000)] = ""
    agents: list[Name] = Field(min_length=1, max_length=20)
    router: RouterSpec = Field(default_factory=RouterSpec)
    max_handoffs: int = Field(default=2, ge=0, le=10)
    """Handoffs between agents allowed per task; a handoff past it is refused to the model."""


Entry = TypeVar("Entry", AgentSpec, NetworkSpec)

BUILTIN_DEFAULT = AgentSpec(
    name=DEFAULT_AGENT,
    description="The general agent: every registered tool, the run's model and budgets.",
)


@dataclass(kw_only=True)
class ConfigProblem:
    kind: str
    """"agent", "network" or "file"."""
    name: str | None
    message: str


@dataclass(kw_only=True)
class AgentConfig:
    agents: dict[str, AgentSpec] = field(default_factory=lambda: {DEFAULT_AGENT: BUILTIN_DEFAULT})
    networks: dict[str, NetworkSpec] = field(default_factory=dict)
    problems: list[ConfigProblem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "agents": {name: spec.model_dump(mode="json") for name, spec in self.agents.items()},
            "networks": {name: spec.model_dump(mode="json") for name, spec in self.networks.items()},
            "problems": [asdict(p) for p in self.problems],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AgentConfig:
        return cls(
            agents={name: AgentSpec.model_validate(spec) for name, spec in data.get("agents", {}).items()},
            networks={name: NetworkSpec.model_validate(spec) for name, spec in data.get("networks", {}).items()},
            problems=[ConfigProblem(**p) for p in data.get("problems", [])],
        )

    def problem_for(self, kind: str, name: str) -> ConfigProblem | None:
        return next((p for p in self.problems if p.kind == kind and p.name == name), None)


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "; ".join(parts)


def _entries(raw: Any, key: str, config: AgentConfig) -> dict[str, Any]:
    section = raw.get(key) if isinstance(raw, dict) else None
    if section is None:
        return {}
    if not isinstance(section, dict):
        config.problems.append(ConfigProblem(kind="file", name=None, message=f"{key}: must be a mapping of names"))
        return {}
    return section


def _validated(model: type[Entry], kind: str, name: str, body: Any, config: AgentConfig) -> Entry | None:
    """The entry as ``model``, or None with a problem recorded that says what is wrong."""
    if not isinstance(body, dict):
        config.problems.append(ConfigProblem(kind=kind, name=name, message="must be a mapping of settings"))
        return None
    try:
        return model.model_validate({**body, "name": name})
    except ValidationError as exc:
        config.problems.append(ConfigProblem(kind=kind, name=name, message=_validation_message(exc)))
        return None


def parse_agent_config(raw: Any) -> AgentConfig:
    """Validate each agent and network alone; a bad entry becomes a problem, never an exception."""
    config = AgentConfig()
    if raw is not None and not isinstance(raw, dict):
        config.problems.append(ConfigProblem(kind="file", name=None, message="the file must be a mapping"))
        return config
    for name, body in _entries(raw, "agents", config).items():
        if str(name) == DEFAULT_AGENT:
            message = "'default' is the built-in agent and cannot be redefined"
            config.problems.append(ConfigProblem(kind="agent", name=DEFAULT_AGENT, message=message))
            continue
        agent = _validated(AgentSpec, "agent", str(name), body, config)
        if agent is not None:
            config.agents[agent.name] = agent
    for name, body in _entries(raw, "networks", config).items():
        network = _validated(NetworkSpec, "network", str(name), body, config)
        problem = _network_problem(network, config) if network is not None else None
        if problem:
            config.problems.append(ConfigProblem(kind="network", name=str(name), message=problem))
        elif network is not None:
            config.networks[network.name] = network
    return config


def _network_problem(network: NetworkSpec, config: AgentConfig) -> str | None:
    for agent in network.agents:
        if agent not in config.agents:
            problem = config.problem_for("agent", agent)
            return f"agent {agent!r} " + (f"is invalid ({problem.message})" if problem else "is not defined")
    for rule in network.router.rules:
        if rule.agent not in network.agents:
            return f"router rule names agent {rule.agent!r}, which is not one of the network's agents"
        if not rule.keywords and not rule.tags:
            return f"router rule for {rule.agent!r} needs keywords or tags"
    if len(set(network.agents)) != len(network.agents):
        return "agents: each agent may be listed once"
    return None


def load_agent_config(path: Path) -> AgentConfig:
    """Read the file afresh; a missing file means only the built-in agent, a broken one says why."""
    if not path.exists():
        return AgentConfig()
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        config = AgentConfig()
        config.problems.append(ConfigProblem(kind="file", name=None, message=f"{path.name} does not parse: {exc}"))
        return config
    return parse_agent_config(raw)


def apply_agent(request: RunRequest, agent: AgentSpec) -> RunRequest:
    """The run request as ``agent`` runs it: its tools, model, tighter budgets and approval overrides.

    The run's own choices win where it made one (a model other than "default", an approval
    override); budgets take the smaller of the two, so an agent never spends more than the run allows.
    """
    budgets = request.budgets.model_dump()
    for name, value in agent.budgets.model_dump().items():
        if value is not None:
            budgets[name] = min(budgets[name], value)
    return request.model_copy(
        update={
            "tools": agent.tools if agent.tools is not None else request.tools,
            "model": agent.model if agent.model and request.model == "default" else request.model,
            "budgets": Budgets.model_validate(budgets),
            "approval": {**agent.approval, **request.approval},
        }
    )
