"""What the toolmesh run API answers, as the CLI reads it.

These models parse the HTTP boundary. They ignore keys they do not know, so a newer server
does not break an older CLI, and give every progress field a default, because a run that has
just started has no custom status yet.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Approval",
    "Handoff",
    "Route",
    "Schedule",
    "SubRun",
    "CatalogFunction",
    "CatalogTool",
    "Progress",
    "Report",
    "ReportTask",
    "RunCreated",
    "RunStatus",
    "RunSummary",
    "TaskItem",
    "Timeline",
    "TimelineEntry",
    "ToolCallItem",
    "ToolCatalog",
    "Usage",
    "Waiting",
]

FINISHED_STATUSES = frozenset({"Completed", "Failed", "Terminated", "Canceled"})


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        """A null the server sends for a field that has a default means "not known": keep the default."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


class RunCreated(_Wire):
    id: str
    status_url: str | None = None
    cancel_url: str | None = None
    approvals_url: str | None = None


class RunSummary(_Wire):
    id: str
    status: str
    objective: str = ""
    created: str | None = None
    updated: str | None = None
    cost_usd: float = 0.0


class Route(_Wire):
    agent: str = ""
    reason: str = ""
    by: str = ""
    """rule, model or fallback."""


class Handoff(_Wire):
    from_: str = Field(default="", alias="from")
    to: str = ""
    reason: str = ""


class TaskItem(_Wire):
    id: int | str
    task: str
    result: str | None = None
    agent: str | None = None
    route: Route | None = None
    handoffs: list[Handoff] = Field(default_factory=list)


class ToolCallItem(_Wire):
    call_id: str = ""
    task_id: int | str | None = None
    function: str = ""
    arguments: str | dict[str, Any] | None = None
    ok: bool | None = None
    status: int | str | None = None
    summary: str | None = None


class Approval(_Wire):
    call_id: str
    tool: str | None = None
    function: str = ""
    arguments: str | dict[str, Any] | None = None
    asked_at: str | None = None
    expires_at: str | None = None


class Waiting(_Wire):
    call_id: str
    function: str = ""
    kind: str = "callback"
    since: str | None = None
    expires_at: str | None = None
    message: str | None = None
    event: str | None = None
    """For kind "event": the outside event waited for, and the data values it must hold."""
    match: dict[str, Any] | None = None


class Retrying(_Wire):
    """A call waiting on a timer for a dependency that is away (the gateway, a tool, the memory service)."""

    kind: str = ""
    name: str = ""
    retry: int = 0
    next_at: str | None = None
    error: str = ""


class Usage(_Wire):
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    tool_calls: int = 0
    cost_usd: float = 0.0


class SubRunProgress(_Wire):
    phase: str = ""
    approvals: list[Approval] = Field(default_factory=list)
    waiting: list[Waiting] = Field(default_factory=list)
    tool_calls: list[ToolCallItem] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)


class SubRun(_Wire):
    """An agent of a network working on one task in its own sub-orchestration."""

    id: str
    agent: str = ""
    task_id: int | str | None = None
    hop: int = 0
    status: str | None = None
    progress: SubRunProgress | None = None


class Progress(_Wire):
    phase: str = "planning"
    iteration: int = 0
    current_task: TaskItem | None = None
    pending: list[TaskItem] = Field(default_factory=list)
    done: list[TaskItem] = Field(default_factory=list)
    tool_calls: list[ToolCallItem] = Field(default_factory=list)
    approvals: list[Approval] = Field(default_factory=list)
    waiting: list[Waiting] = Field(default_factory=list)
    retrying: list[Retrying] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    execution: int = 0
    sub_runs: list[SubRun] = Field(default_factory=list)


class ReportToolCall(_Wire):
    function: str = ""
    ok: bool | None = None
    status: int | str | None = None


class ReportTask(_Wire):
    id: int | str
    task: str
    result: str | None = None
    tool_calls: list[ReportToolCall] = Field(default_factory=list)
    agent: str | None = None
    route: Route | None = None
    handoffs: list[Handoff] = Field(default_factory=list)


class Schedule(_Wire):
    id: str
    status: str | None = None
    cron: str = ""
    paused: bool = False
    next_tick: str | None = None
    last_tick: str | None = None
    last_run_id: str | None = None
    runs_started: int = 0
    missed: int = 0
    objective: str | None = None


class Report(_Wire):
    objective: str = ""
    outcome: str = ""
    stop_reason: str = ""
    tasks: list[ReportTask] = Field(default_factory=list)
    pending: list[TaskItem] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    summary: str = ""
    model: str | None = None
    trace_id: str | None = None


class RunStatus(_Wire):
    id: str
    status: str
    objective: str = ""
    created: str | None = None
    updated: str | None = None
    progress: Progress | None = None
    output: Report | None = None
    trace_id: str | None = None
    failure: str | None = None
    """Why the run failed, when the host reports a failed orchestration's error as its output."""

    @model_validator(mode="before")
    @classmethod
    def _failure_text(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("output"), str):
            data = {**data, "output": None, "failure": data["output"]}
        return data

    @property
    def finished(self) -> bool:
        """True once the run can no longer change (it completed, failed or was terminated)."""
        return self.status in FINISHED_STATUSES


class CatalogFunction(_Wire):
    name: str
    description: str = ""
    needs_approval: bool = False
    size_chars: int | None = None
    approx_tokens: int | None = None
    parameters: dict[str, Any] | None = None


class CatalogTool(_Wire):
    name: str
    base_url: str | None = None
    functions: list[CatalogFunction] = Field(default_factory=list)


class ToolCatalog(_Wire):
    tools: list[CatalogTool] = Field(default_factory=list)
    problems: list[dict[str, Any] | str] = Field(default_factory=list)


class TimelineEntry(_Wire):
    kind: str
    name: str = ""
    task_id: int | None = None
    call_id: str | None = None
    start: str
    end: str
    ok: bool = True
    attempts: int = 1
    tokens: int = 0
    cost_usd: float = 0.0
    detail: str = ""


class Timeline(_Wire):
    """``GET /api/runs/{id}/timeline``."""

    id: str
    status: str | None = None
    trace_id: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    complete: bool = False
    entries: list[TimelineEntry] = Field(default_factory=list)
    metrics: dict[str, Any] | None = None
