"""What the run API answers and accepts besides the run request: its wire format, as models.

These models are the OpenAPI spec's schemas (``run_api_spec.py``), so the spec, the exported
``specs/run_api.openapi.json`` and the CLI's check against it all read one description. The
responses stay open to new keys (a newer server may add some); the request bodies are closed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ScheduleDeleting",
    "ScheduleView",
    "ScheduleCreated",
    "ScheduleControlAccepted",
    "EventDelivery",
    "EventAccepted",
    "ConfigProblemView",
    "AgentsView",
    "ApprovalAccepted",
    "ApprovalDecision",
    "ApprovalView",
    "AbortAccepted",
    "AbortRequest",
    "ConversationMessageView",
    "ConversationView",
    "MessageSend",
    "MessageView",
    "MessagesPage",
    "CallOutcomes",
    "CallbackAccepted",
    "CancelAccepted",
    "CatalogFunctionView",
    "CatalogProblem",
    "CatalogToolView",
    "CatalogView",
    "ErrorBody",
    "ErrorDetail",
    "HandoffView",
    "ProgressView",
    "Reply",
    "ReplyAccepted",
    "Report",
    "ReportTask",
    "ReportToolCall",
    "RunLinks",
    "RouteView",
    "RunStatusView",
    "RunMetrics",
    "RunSummary",
    "SubRunProgressView",
    "SubRunView",
    "TaskView",
    "TimeSplit",
    "TimelineEntry",
    "TimelineView",
    "ToolCallView",
    "UsageView",
    "WaitingView",
]

RunStatusName = Literal[
    "Pending", "Running", "Completed", "ContinuedAsNew", "Failed", "Canceled", "Terminated", "Suspended"
]


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(_Response):
    message: str
    field: str | None
    """The dotted path of the first bad field, when one field is to blame."""


class ErrorBody(_Response):
    """Every 4xx and 5xx the run API itself answers."""

    error: ErrorDetail


class RunLinks(_Response):
    """``POST /api/runs``: the new run and where to follow and steer it."""

    id: str
    status_url: str
    cancel_url: str
    approvals_url: str


class RunSummary(_Response):
    id: str
    status: RunStatusName | None
    objective: str | None
    created: str | None
    updated: str | None
    cost_usd: float = 0.0
    """What the run's model steps have cost so far, at the gateway's prices."""


class RouteView(_Response):
    """Which agent of a network the router chose for a task, why, and by what."""

    agent: str
    reason: str
    by: Literal["rule", "model", "fallback"]


class HandoffView(_Response):
    from_: str = Field(alias="from")
    to: str
    reason: str


class TaskView(_Response):
    id: int
    task: str
    result: str | None = None
    agent: str | None = None
    """In a network run: the agent that has (or finished) the task, after any handoffs."""
    route: RouteView | None = None
    handoffs: list[HandoffView] | None = None


class ToolCallView(_Response):
    call_id: str
    task_id: int
    function: str
    arguments: str
    ok: bool
    status: int | None
    summary: str
    base_url: str | None = None
    """Where the call went, when the registry had moved the tool since the run's catalog was read."""


class ApprovalView(_Response):
    """A call waiting for a person's decision."""

    call_id: str
    tool: str
    function: str
    method: str
    path: str
    arguments: dict[str, Any]
    asked_at: str
    expires_at: str


class WaitingView(_Response):
    """A call waiting for a tool's callback or a person's reply."""

    call_id: str
    function: str
    kind: str
    since: str
    expires_at: str
    message: str
    response: Any = None
    wait_id: str | None = None
    """For kind "event": the wait's id, the outside event it waits for and the data values it must hold."""
    event: str | None = None
    match: dict[str, Any] | None = None


class RetryingView(_Response):
    """A call waiting for a dependency that is away (the gateway, a tool, the memory service)."""

    kind: Literal["model", "tool", "memory"]
    name: str
    """The model step, the function, or ``store_memory``."""
    task_id: int | None
    since: str
    retry: int
    """Which retry comes next (1 for the first)."""
    next_at: str
    error: str
    """Why the last call did not get through."""


class UsageView(_Response):
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    tool_calls: int
    cost_usd: float = 0.0


class ProgressView(_Response):
    """The run's live progress (its custom status), kept under the 16 KB the extension allows."""

    objective: str
    phase: str
    iteration: int
    execution: int
    current_task: TaskView | None
    pending: list[TaskView]
    pending_count: int
    done: list[TaskView]
    done_count: int
    tool_calls: list[ToolCallView]
    approvals: list[ApprovalView]
    waiting: list[WaitingView]
    usage: UsageView
    retrying: list[RetryingView] = Field(default_factory=list)
    """Calls waiting to try again, each on a durable timer, for a dependency that is away."""
    agent: str | None = None
    """The agent a run named, when it named one."""
    sub_runs: list[SubRunView] | None = None
    """In a network run: the sub-orchestrations in flight, each one agent on one task."""
    conversation: ConversationView | None = None
    """People's messages and the agent's replies, the recent ones."""


class SubRunProgressView(_Response):
    phase: str | None = None
    agent: str | None = None
    current_task: TaskView | None = None
    approvals: list[ApprovalView] | None = None
    waiting: list[WaitingView] | None = None
    retrying: list[RetryingView] | None = None
    tool_calls: list[ToolCallView] | None = None
    usage: UsageView | None = None


class SubRunView(_Response):
    id: str
    agent: str
    task_id: int
    hop: int
    """How many handoffs led to this agent on this task."""
    status: RunStatusName | None = None
    progress: SubRunProgressView | None = None


class TimelineEntry(_Response):
    """One bar of the run's timeline: a model step, a tool call or a memory call, or a wait for a person."""

    kind: Literal["model", "tool", "memory", "approval", "callback"]
    name: str
    """The step (create_tasks, execute_task, ...) or the function called or waited on."""
    task_id: int | None
    call_id: str | None
    start: str
    end: str
    ok: bool
    attempts: int
    tokens: int
    cost_usd: float
    detail: str


class TimeSplit(_Response):
    """Seconds of the run in the model, in tools, waiting for people and in orchestration (the rest)."""

    total: float
    people: float
    model: float
    tools: float
    orchestration: float


class CallOutcomes(_Response):
    ok: int
    failed: int


class RunMetrics(_Response):
    model_steps: int
    tool_calls: dict[str, CallOutcomes]
    """By function."""
    retries: int
    seconds: TimeSplit


class ReportToolCall(_Response):
    function: str
    ok: bool
    status: int | None
    base_url: str | None = None


class ReportTask(_Response):
    id: int
    task: str
    result: str | None
    tool_calls: list[ReportToolCall]
    selected_tools: list[str] | None = None
    agent: str | None = None
    route: RouteView | None = None
    handoffs: list[HandoffView] | None = None
    failures: list[str] | None = None
    """What failed the task though it finished (a tool that stayed away, a memory note not stored)."""


class Report(_Response):
    """A finished run's output: what was asked, what was done, why it stopped, what it cost."""

    objective: str
    outcome: str
    """completed, completed_with_failures (a task failed: see its failures), budget_exhausted,
    cancelled or failed."""
    stop_reason: str
    tasks: list[ReportTask]
    pending: list[TaskView]
    usage: UsageView
    events: list[str]
    executions: int
    summary: str
    model: str
    started_at: str
    finished_at: str
    trace_id: str | None = None
    metrics: RunMetrics | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)


class RunStatusView(RunSummary):
    """``GET /api/runs/{id}``: a failed run's output is the failure's message."""

    progress: ProgressView | None
    output: Report | str | None
    trace_id: str
    """The run's OpenTelemetry trace id (32 hex digits), derived from the run id."""


class TimelineView(_Response):
    """``GET /api/runs/{id}/timeline``: a finished run's from its report (``complete``), a running
    one's as carried past its last continue-as-new."""

    id: str
    status: RunStatusName | None
    trace_id: str
    started_at: str | None
    finished_at: str | None
    complete: bool
    entries: list[TimelineEntry]
    metrics: RunMetrics | None


class ApprovalDecision(_Request):
    approve: bool
    comment: str = Field(default="", max_length=2000)


class ApprovalAccepted(_Response):
    id: str
    call_id: str
    approve: bool


class CancelAccepted(_Response):
    id: str
    status: Literal["cancelling"]


class Reply(_Request):
    """A person's answer to a message the run sent and waits on."""

    reply: str = Field(min_length=1, max_length=50_000)
    from_: str | None = Field(default=None, alias="from", min_length=1)


class MessageSend(_Request):
    """A person's message to a run: who says it (a display name) and what."""

    author: str = Field(min_length=1, max_length=64, pattern=r"^[^\W_][\w .,'@()+-]*$")
    text: str = Field(min_length=1, max_length=4000, pattern=r"\S")


class MessageView(_Response):
    """One message of a run's conversation."""

    seq: int
    """Its place in the conversation (1, 2, ...); ``after`` pages by it."""
    id: str
    role: Literal["person", "agent"]
    author: str
    text: str
    at: str
    status: Literal["pending", "taken", "refused", "sent"]
    """A person's message: pending until the run takes it, then taken (or refused when the run
    ended first); the agent's: sent."""
    outcome: str
    """What the run did about a person's message: the tasks it added, an answer, a stop."""
    kind: str
    """``message`` for people; the agent's ``reply``, ``question`` or chat ``turn``."""
    taken_at: str | None


class MessagesPage(_Response):
    id: str
    messages: list[MessageView]
    next_after: int | None
    """Pass as ``after`` for the next page; null on the last page."""


class AbortRequest(_Request):
    author: str = Field(default="someone", min_length=1, max_length=64, pattern=r"^[^\W_][\w .,'@()+-]*$")


class AbortAccepted(_Response):
    id: str
    turn: str
    aborted: bool


class ConversationMessageView(_Response):
    role: str
    author: str
    text: str
    at: str


class ConversationView(_Response):
    """The run's recent conversation, shown with its progress (the whole one: GET .../messages)."""

    messages: list[ConversationMessageView]
    waiting_messages: int
    """Messages received and not taken yet."""
    turn: str | None
    """A chat run's turn in progress (abort it with POST .../abort)."""
    mode: Literal["objective", "chat"]


class ReplyAccepted(_Response):
    id: str
    call_id: str
    message_id: str
    accepted: bool


class CallbackAccepted(_Response):
    id: str
    call_id: str
    accepted: bool


class CatalogFunctionView(_Response):
    name: str
    description: str
    method: str
    path: str
    needs_approval: bool
    size_chars: int
    approx_tokens: int
    parameters: dict[str, Any] | None = None
    """The function's JSON Schema, in ``GET /api/tools/{name}`` only."""


class CatalogToolView(_Response):
    name: str
    base_url: str | None
    tags: list[str]
    functions: list[CatalogFunctionView]


class CatalogProblem(_Response):
    tool: str | None
    operation: str | None
    pointer: str | None
    reason: str


class CatalogView(_Response):
    tools: list[CatalogToolView]
    problems: list[CatalogProblem]


class ConfigProblemView(_Response):
    kind: Literal["agent", "network", "file"]
    name: str | None
    message: str


class AgentsView(_Response):
    """specs/agents.yaml as the next run reads it: valid agents and networks, and each bad entry's problem."""

    agents: dict[str, dict[str, Any]]
    networks: dict[str, dict[str, Any]]
    problems: list[ConfigProblemView]


class EventDelivery(_Response):
    run_id: str
    """The instance whose wait the event answered (a run, or a network run's sub-run)."""
    wait_id: str


class EventAccepted(_Response):
    event_id: str
    delivered_to: list[EventDelivery]
    kept_until: str | None
    """Until when the event waits for runs that start waiting later (null: not kept)."""


class ScheduleView(_Response):
    id: str
    status: RunStatusName | None
    created: str | None
    cron: str | None
    paused: bool | None
    next_tick: str | None
    last_tick: str | None
    last_run_id: str | None
    runs_started: int | None
    missed: int | None
    """Ticks skipped because the host was down (the earliest missed tick still starts its run)."""
    objective: str | None


class ScheduleCreated(_Response):
    id: str
    cron: str
    paused: bool


class ScheduleControlAccepted(_Response):
    id: str
    action: Literal["pause", "resume"]


class ScheduleDeleting(_Response):
    id: str
    status: Literal["deleting"]
