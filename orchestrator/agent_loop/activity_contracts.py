"""What the orchestrator sends each activity and what it gets back: one model per side of each call.

Inputs and results are stored in orchestration history as JSON, so they cross the boundary as
plain dicts: the orchestrator builds an input model and sends ``payload()``; the activity
validates it on entry (``parse``) and answers with a result model's ``model_dump``; the
orchestrator reads the result back through the same model. Inputs forbid unknown keys, so a
caller and an activity that disagree fail loudly; results ignore them and give every field a
default, so the histories of runs in flight (written by earlier versions) still read.

``payload()`` leaves out the fields the caller did not set, so a call's input in history has
exactly the keys the caller gave.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "REPLAYED_INPUT",
    "ActivityInput",
    "HeldEventLookup",
    "LlmStepInput",
    "LoadCatalogInput",
    "MemoryStored",
    "PublishEventsInput",
    "ModelUsage",
    "PendingMessagesInput",
    "ReadAgentsInput",
    "RecordConversationInput",
    "RecallMemoryInput",
    "RecordRunInput",
    "RunRecorded",
    "SelectToolsInput",
    "SelectedTools",
    "StepAnswer",
    "StepToolCall",
    "StoreMemoryInput",
    "Timing",
    "ToolCallInput",
    "SERVICE_AWAY",
    "ToolCallOutcome",
]

REPLAYED_INPUT: dict[str, Any] = {"replayed_call": True}
"""What the orchestrator passes instead of an input when replay re-issues a call history already
holds (see AgentRun._call); no activity may ever run with it."""


class ActivityInput(BaseModel):
    """An activity's input; ``span_key`` is the call's place in the run, from which its span id comes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    span_key: str | None = None
    stream: str | None = None
    """The run whose live event stream the activity publishes to (a network's sub-run: its run's)."""
    events: list[tuple[str | None, dict[str, Any]]] | None = None
    """Live events the orchestrator decided on since its last call that publishes, as ``[key, event]``;
    the activity publishes them before its own work (see agent_loop.live_progress)."""
    turn: str | None = None
    """The chat turn the call belongs to; its model step or tool call stops when a person aborts the turn."""

    @classmethod
    def parse(cls, payload: Any) -> Self:
        """The input an activity was called with, validated; a replay stand-in here is a defect."""
        if isinstance(payload, dict) and payload.get("replayed_call") is True:
            raise RuntimeError("this activity was scheduled with a replay stand-in instead of its input")
        return cls.model_validate(payload)

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)


class _Result(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Timing(_Result):
    """When an activity's own work started and ended (UTC, ISO 8601); see timeline.activity_timing."""

    start: str
    end: str


class LoadCatalogInput(ActivityInput):
    tools: list[str] | None = None
    """The registry's tools the run may use (None: all)."""
    offer_limit: int | None = None
    """Above this many functions the catalog stays outside history and each task's are selected."""


class SelectToolsInput(ActivityInput):
    ref: str
    """The catalog snapshot's content hash."""
    tools: list[str] | None = None
    task: str
    limit: int


class SelectedTools(_Result):
    functions: list[dict[str, Any]] = Field(default_factory=list)
    """The offered functions, as the catalog's JSON has them."""
    selected: list[str] | None = None


class LlmStepInput(ActivityInput):
    run_id: str
    step: str
    """The loop's step (create_tasks, prioritize, execute_task, summarize, route, messages)."""
    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    response_format: dict[str, Any] | None = None
    call_prefix: str | None = None
    """What the run's ids of this step's tool calls start with (the call's index follows)."""


class ModelUsage(_Result):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0


class StepToolCall(_Result):
    """A function call the model asked for; ``arguments`` is JSON text as the model wrote it."""

    id: str
    name: str
    arguments: str = "{}"
    event_id: str | None = None
    """The id the step's live events gave the call (AG-UI's ``toolCallId``); None in results kept
    before steps named their calls, whose events used the run's id for the call."""


class StepAnswer(_Result):
    """The few fields of a chat completion the run keeps."""

    content: str | None = None
    tool_calls: list[StepToolCall] = Field(default_factory=list)
    finish_reason: str | None = None
    model: str | None = None
    usage: ModelUsage = Field(default_factory=ModelUsage)
    timing: Timing | None = None
    away: str | None = None
    """Set instead of an answer when the gateway was away (see agent_loop.dependency_retry)."""
    aborted: bool = False
    """The step's chat turn was aborted before the model answered (see agent_loop.turn_abort)."""


class PublishEventsInput(ActivityInput):
    """Nothing but the events to publish (and the run), before the run waits."""

    run_id: str


class ToolCallInput(ActivityInput):
    """One tool call (``invoke_tool``); the function and tool as the run's catalog has them."""

    run_id: str
    call_id: str
    function: dict[str, Any]
    tool: dict[str, Any]
    arguments: dict[str, Any]
    input_responses: dict[str, Any] | None = None
    """People's answers to the questions an MCP tool asked during this call, by question key."""
    request_state: str | None = None
    event_call_id: str | None = None
    """The id the model step's events gave the call, for its result event (AG-UI's ``toolCallId``)."""


SERVICE_AWAY = "the service was away"
"""What a call's ``away`` says when nothing better is known (no error text, or a result from before it was text)."""


class ToolCallOutcome(_Result):
    """What a tool call came to (``invoke_tool``, and the MCP task activities for a call that runs as a task).

    The engine's ``ToolResult`` fields come first, in its order (a test keeps the two the same),
    then what the activity adds; a result is kept with the keys the activity set (``result()``).
    """

    ok: bool = False
    status: int | None = None
    content_type: str | None = None
    body: str = ""
    truncated: bool = False
    error: str | None = None
    retryable: bool = False
    attempts: int = 1
    input_required: dict[str, Any] | None = None
    """A tool's questions for a person before it can finish (``questions`` by key, and its ``state``)."""
    task: dict[str, Any] | None = None
    """The MCP task the call goes on as (``id``, ``status``, ``message``, ``poll_interval_ms``)."""
    json_body: Any = Field(default=None, alias="json")
    """The answer's body parsed, when it was whole JSON; None otherwise."""
    away: str | None = None
    """Set when the tool's service was away, saying how (see agent_loop.dependency_retry)."""
    aborted: bool = False
    """The call's chat turn was aborted before the call ended (see agent_loop.turn_abort)."""
    base_url: str | None = None
    """Where the registry had the tool when the call was made, when the run's catalog said elsewhere."""
    timing: Timing | None = None
    retries: int = 0
    """Calls made again after the service was away (set by the orchestrator, never by the activity)."""
    away_seconds: float = 0.0

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    @field_validator("away", mode="before")
    @classmethod
    def _away_text(cls, value: Any) -> Any:
        # Results kept by earlier versions say only whether the service was away.
        if value is True:
            return SERVICE_AWAY
        return None if value is False else value

    def result(self) -> dict[str, Any]:
        """The activity's answer: the fields it set, by their names in history (``json``)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class StoreMemoryInput(ActivityInput):
    run_id: str
    task_id: int
    task: str
    result: str


class MemoryStored(_Result):
    stored: bool = False
    reason: str | None = None
    """Why nothing was stored when no memory tool is registered."""
    status: int | None = None
    error: str | None = None
    function: str | None = None
    attempts: int = 1
    timing: Timing | None = None
    away: str | None = None
    """Why nothing was stored, when the memory service was away and a later try may store it."""


class RecallMemoryInput(ActivityInput):
    run_id: str
    query: str


class RecordRunInput(ActivityInput):
    run_id: str
    started_at: str
    model: str | None = None
    usage: dict[str, Any] = Field(default_factory=dict)
    outcome: str = ""
    stop_reason: str = ""


class RunRecorded(_Result):
    trace_id: str


class ReadAgentsInput(ActivityInput):
    """``read_agents`` reads the agents file as it is now; the input only marks the call."""

    read: bool = True


class HeldEventLookup(ActivityInput):
    """``find_held_event``: the kept outside event a wait may take at once (the result: the event, or None)."""

    name: str
    match: dict[str, Any] = Field(default_factory=dict)
    """Event data fields (dots for nesting) and the values they must equal."""
    seen: list[str] = Field(default_factory=list)
    """Ids of the events the run took already."""
    instance_id: str | None = None
    wait_id: str | None = None
    """The run and its wait: the look waits until the wait shows in the run's status."""


class RecordConversationInput(ActivityInput):
    """What the run writes to its conversation's store (see agent_loop.conversation_store)."""

    run_id: str
    taken: list[dict[str, Any]] = Field(default_factory=list)
    """People's messages the run took: id and outcome (what it did about each)."""
    said: list[dict[str, Any]] = Field(default_factory=list)
    """The agent's messages: id, author, text, kind, at."""
    closing: str | None = None
    """At the run's end: why the messages still pending are refused."""


class PendingMessagesInput(ActivityInput):
    run_id: str
