"""The run's state: plain data that lives in orchestration history and crosses continue_as_new.

Everything here converts to and from JSON-ready dicts, because Durable history stores JSON and
the orchestrator must rebuild exactly the same state on every replay.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["CallRecord", "RunState", "Task", "Usage"]


@dataclass(kw_only=True)
class CallRecord:
    """One tool call as the report and the progress view show it."""

    call_id: str
    task_id: int
    function: str
    arguments: str
    ok: bool
    status: int | None
    summary: str
    base_url: str | None = None
    """Where the call went, when the registry had moved the tool since the run's catalog was read."""


@dataclass(kw_only=True)
class Task:
    id: int
    task: str
    result: str | None = None
    tool_calls: list[CallRecord] = field(default_factory=list)
    selected_tools: list[str] | None = None
    """The functions offered for this task when the catalog was too large to offer all."""
    agent: str | None = None
    """In a network: the agent that finished the task (after any handoffs)."""
    route: dict[str, str] | None = None
    """In a network: the first agent chosen, why, and by what ("rule", "model" or "fallback")."""
    handoffs: list[dict[str, str]] = field(default_factory=list)
    """In a network: each handoff of the task (from, to, reason), and any refused past the bound."""
    failures: list[str] = field(default_factory=list)
    """What failed the task though it finished: a tool that stayed away, a memory note not stored."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        calls = [CallRecord(**call) for call in data.get("tool_calls", [])]
        return cls(
            id=data["id"],
            task=data["task"],
            result=data.get("result"),
            tool_calls=calls,
            selected_tools=data.get("selected_tools"),
            agent=data.get("agent"),
            route=data.get("route"),
            handoffs=list(data.get("handoffs", [])),
            failures=list(data.get("failures", [])),
        )


@dataclass(kw_only=True)
class Usage:
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    tool_calls: int = 0
    cost_usd: float = 0.0
    """What the gateway charged for the run's model steps, at its per-deployment prices (USD)."""

    def add_llm(self, usage: dict[str, Any] | None) -> None:
        self.llm_calls += 1
        usage = usage or {}
        self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        self.completion_tokens += int(usage.get("completion_tokens") or 0)
        self.total_tokens += int(usage.get("total_tokens") or 0)
        self.cost_usd += float(usage.get("cost_usd") or 0.0)


@dataclass(kw_only=True)
class RunState:
    """Everything the loop knows; the orchestrator folds activity results into it."""

    request: dict[str, Any]
    run_id: str
    started_at: str
    iteration: int = 0
    execution: int = 0
    next_task_id: int = 1
    pending: list[Task] = field(default_factory=list)
    done: list[Task] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    events: list[str] = field(default_factory=list)
    """Notable decisions (a prioritizer answer rejected, a budget reached), for the report."""
    timeline: list[dict[str, Any]] = field(default_factory=list)
    """Model steps, tool calls and waits with their times (see agent_loop.timeline)."""
    seen_events: list[str] = field(default_factory=list)
    """Ids of outside events already taken by a wait, so one event never answers two waits of the run."""
    inbox: list[dict[str, Any]] = field(default_factory=list)
    """People's messages received and not yet taken (see agent_loop.conversation)."""
    seen_messages: list[str] = field(default_factory=list)
    """Ids of the messages received lately, so a message delivered twice is taken once."""
    conversation: list[dict[str, Any]] = field(default_factory=list)
    """The recent messages of the conversation; older ones live in the summary and the store."""
    conversation_summary: str = ""
    """A bounded digest of the messages that left ``conversation``."""
    said: int = 0
    """Messages the agent has posted, for their ids."""
    turns: int = 0
    """Chat turns begun, for their ids."""
    last_message_at: str = ""
    """When the last person's message was taken; a chat run's idle time counts from here."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        return cls(
            request=data["request"],
            run_id=data["run_id"],
            started_at=data["started_at"],
            iteration=data.get("iteration", 0),
            execution=data.get("execution", 0),
            next_task_id=data.get("next_task_id", 1),
            pending=[Task.from_dict(t) for t in data.get("pending", [])],
            done=[Task.from_dict(t) for t in data.get("done", [])],
            usage=Usage(**data.get("usage", {})),
            events=list(data.get("events", [])),
            timeline=list(data.get("timeline", [])),
            seen_events=list(data.get("seen_events", [])),
            inbox=list(data.get("inbox", [])),
            seen_messages=list(data.get("seen_messages", [])),
            conversation=list(data.get("conversation", [])),
            conversation_summary=data.get("conversation_summary", ""),
            said=data.get("said", 0),
            turns=data.get("turns", 0),
            last_message_at=data.get("last_message_at", ""),
        )

    def add_task(self, text: str) -> Task:
        task = Task(id=self.next_task_id, task=text)
        self.next_task_id += 1
        self.pending.append(task)
        return task
