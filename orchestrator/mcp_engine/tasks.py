"""Long-running MCP tools as tasks (the `io.modelcontextprotocol/tasks` extension, 2026-07-28).

A server that has the extension may answer a `tools/call` with a task handle (`resultType:
"task"`) instead of the result; the client then asks `tasks/get` until the task ends, and
`tasks/cancel` stops it. The SDK (2.3.0) ships the extension surfaces (a result claim on
`tools/call`, typed requests of any method) but not this extension, so its wire shapes are
declared here from the extension's specification; ``client`` sends them.

Nothing waits here: a call that started a task returns its handle, and the run polls it
through an activity between durable timers (``agent_loop.mcp_tasks``), so no connection is
held while the task works, and a restart loses nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.types import CallToolResult, InputRequests, InputResponses, Request, RequestParams, Result

__all__ = [
    "TASKS_EXTENSION",
    "TERMINAL_STATUSES",
    "Acknowledged",
    "CreateTaskResult",
    "DetailedTask",
    "TasksExtension",
    "cancel_task_request",
    "get_task_request",
    "update_task_request",
]

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
TaskStatus = Literal["working", "input_required", "completed", "failed", "cancelled"]
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})


class _Task(Result):
    """The fields every task shape carries (camelCase on the wire)."""

    task_id: str
    status: TaskStatus
    status_message: str | None = None
    created_at: str | None = None
    last_updated_at: str | None = None
    ttl_ms: int | None = None
    """How long the server keeps the task after its creation; None for no limit."""
    poll_interval_ms: int | None = None
    """How often the server asks to be polled."""


class CreateTaskResult(_Task):
    """A `tools/call` answered with a task handle instead of the tool's result."""

    result_type: Literal["task"] = "task"


class DetailedTask(_Task):
    """A `tasks/get` answer: the task, with its result, error or questions inlined by status."""

    result_type: str | None = "complete"
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    input_requests: InputRequests | None = None


class _TaskParams(RequestParams):
    task_id: str


class _UpdateTaskParams(_TaskParams):
    input_responses: InputResponses


class _GetTaskRequest(Request[_TaskParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    name_param = "taskId"


class _CancelTaskRequest(Request[_TaskParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    name_param = "taskId"


class _UpdateTaskRequest(Request[_UpdateTaskParams, Literal["tasks/update"]]):
    method: Literal["tasks/update"] = "tasks/update"
    name_param = "taskId"


class Acknowledged(Result):
    """The empty answer to `tasks/cancel` and `tasks/update`."""

    result_type: str | None = None


async def _not_resolved_in_process(handle: CreateTaskResult, _: ClaimContext) -> CallToolResult:
    # Calls are made with `allow_claimed=True`, which hands the handle back instead: the run
    # waits for the task between durable timers, never inside one connection.
    raise RuntimeError(f"task {handle.task_id} is awaited by the run, not in process")


class TasksExtension(ClientExtension):
    """Declares the tasks extension on every request and parses a task handle from `tools/call`."""

    identifier = TASKS_EXTENSION

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreateTaskResult, resolve=_not_resolved_in_process)]


def get_task_request(task_id: str) -> Request[Any, Any]:
    return _GetTaskRequest(params=_TaskParams(task_id=task_id))


def cancel_task_request(task_id: str) -> Request[Any, Any]:
    return _CancelTaskRequest(params=_TaskParams(task_id=task_id))


def update_task_request(task_id: str, responses: InputResponses) -> Request[Any, Any]:
    return _UpdateTaskRequest(params=_UpdateTaskParams(task_id=task_id, input_responses=responses))
