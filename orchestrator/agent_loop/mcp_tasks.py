"""A run's side of long-running MCP tools: a call that started a task is awaited durably.

When a server answers a call with a task (``mcp_engine.tasks``), the run holds no connection:
it sleeps on a durable timer, raced against cancel and the run's deadline, then looks at the
task through an activity (``tasks/get``), and again with a growing interval (the server's
``pollIntervalMs`` at least) until the task ends. The timers and each look are history, so a
host that restarts meanwhile picks the wait up where it was; the task was created once (its
call carries the run's idempotency key) and its result is taken once.

A task that asks for input is shown to the run's people like an approval (kind ``input``) and
their answers go back with ``tasks/update``; a run cancelled or out of time while it waits asks
the server to cancel the task.

The orchestrator part (``await_task``) is deterministic code; the activities do the I/O.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import azure.durable_functions as df
from opentelemetry.trace import SpanKind

from mcp_engine import McpAnswers, answer_mcp_task, cancel_mcp_task, poll_mcp_task
from openapi_engine import ToolFunction, ToolInfo

from . import run_trace
from .activities import call_outcome, tool_settings
from .activity_contracts import ToolCallInput, ToolCallOutcome
from .planning import one_line
from .state import Task

if TYPE_CHECKING:
    from .orchestration import AgentRun

__all__ = [
    "McpTaskInput",
    "await_task",
    "bp",
    "mcp_task_answer",
    "mcp_task_cancel",
    "mcp_task_status",
    "next_poll_delay",
]

Steps = Generator[Any, Any, Any]
bp = df.Blueprint()

MIN_POLL_SECONDS = 1.0
MAX_POLL_SECONDS = 300.0
POLL_BACKOFF = 1.5
MAX_TASK_QUESTION_ROUNDS = 5


def next_poll_delay(poll_interval_ms: Any, previous: float | None) -> float:
    """Seconds until the next look: growing by half each time, never below the server's interval."""
    asked = float(poll_interval_ms) / 1000 if isinstance(poll_interval_ms, int | float) else 0.0
    grown = MIN_POLL_SECONDS if previous is None else previous * POLL_BACKOFF
    return min(MAX_POLL_SECONDS, max(MIN_POLL_SECONDS, asked, grown))


# -- activities --------------------------------------------------------------------------------


class McpTaskInput(ToolCallInput):
    """The input of a look at, an answer to or the cancel of the task a call started."""

    task_id: str


@asynccontextmanager
async def _traced(payload: Any, what: str) -> AsyncIterator[tuple[McpTaskInput, ToolFunction, dict[str, Any]]]:
    """The input, its function and where to reach it, inside a span of the run's trace (``what``: the request)."""
    request = McpTaskInput.parse(payload)
    function = ToolFunction.from_dict(request.function)
    tool = ToolInfo(**request.tool)
    where = {
        "url": tool.base_url,
        "settings": tool_settings(tool),
        "timeout_seconds": float(tool.timeout_seconds),
        "run_id": request.run_id,
    }
    with run_trace.span(
        f"{what} {function.name}",
        run_id=request.run_id,
        key=request.span_key,
        kind=SpanKind.CLIENT,
        attributes=run_trace.tool_attributes(request.run_id, function.name, tool.name, request.call_id, {}),
    ):
        yield request, function, where


@bp.activity_trigger(input_name="payload")
async def mcp_task_status(payload: dict[str, Any]) -> dict[str, Any]:
    """One `tasks/get`: the call's final outcome, or the task still at work (``task`` set)."""
    started = datetime.now(UTC)
    async with _traced(payload, "tasks/get") as (request, function, where):
        return call_outcome(await poll_mcp_task(function, request.task_id, **where), started)


@bp.activity_trigger(input_name="payload")
async def mcp_task_cancel(payload: dict[str, Any]) -> dict[str, Any]:
    """One `tasks/cancel` for a task the run stopped waiting for."""
    started = datetime.now(UTC)
    async with _traced(payload, "tasks/cancel") as (request, function, where):
        return call_outcome(await cancel_mcp_task(function, request.task_id, **where), started)


@bp.activity_trigger(input_name="payload")
async def mcp_task_answer(payload: dict[str, Any]) -> dict[str, Any]:
    """One `tasks/update` with people's answers to the task's questions."""
    started = datetime.now(UTC)
    async with _traced(payload, "tasks/update") as (request, function, where):
        answers = McpAnswers(responses=request.input_responses or {})
        return call_outcome(await answer_mcp_task(function, request.task_id, answers, **where), started)


# -- the wait (orchestrator code) --------------------------------------------------------------


def _message(task: dict[str, Any]) -> str:
    said = f": {task['message']}" if task.get("message") else ""
    return one_line(f"MCP task {task.get('id')} {task.get('status')}{said}", 300)


def await_task(
    run: AgentRun, task: Task, call_id: str, function: ToolFunction, arguments: dict[str, Any], outcome: ToolCallOutcome
) -> Steps:
    """Wait for the task a call started; returns the call's final outcome (a ``ToolCallOutcome``)."""
    from .orchestration import RunCancelled  # orchestration imports this module

    assert outcome.task is not None
    handle: dict[str, Any] = outcome.task
    request = McpTaskInput.model_validate({**run._tool_call(call_id, function, arguments), "task_id": handle["id"]})
    payload = request.payload()
    since = run._now_iso()
    entry = {
        "call_id": call_id,
        "function": function.name,
        "kind": "task",
        "since": since,
        "expires_at": run._run_deadline().isoformat(),
        "message": _message(handle),
    }
    run.waiting.append(entry)
    run._status("waiting", task)
    run.state.events.append(f"call {call_id} to {function.name} runs as MCP task {handle['id']}")
    delay: float | None = None
    rounds = 0
    final = ToolCallOutcome(ok=False, error="the wait for the MCP task ended")
    try:
        while True:
            delay = next_poll_delay(handle.get("poll_interval_ms"), delay)
            now = run.context.current_utc_datetime
            deadline = run._run_deadline()
            if now >= deadline:
                yield from _cancel(run, payload)
                budget = run.request.budgets.deadline_seconds
                final = ToolCallOutcome(
                    ok=False,
                    error=f"the run's deadline ({budget} seconds from its start) ended the wait for MCP task "
                    f"{handle['id']}; the task was cancelled",
                )
                return final
            timer = run.context.create_timer(min(now + timedelta(seconds=delay), deadline))
            try:
                yield from run._guarded(timer)
            except RunCancelled:
                yield from _cancel(run, payload)
                raise
            status = ToolCallOutcome.model_validate((yield from run._activity(mcp_task_status, payload)))
            if status.input_required and status.task:
                rounds += 1
                answered = yield from _ask_people(run, task, call_id, function, arguments, request, status, rounds)
                if answered is not None:
                    yield from _cancel(run, payload)
                    final = ToolCallOutcome(ok=False, error=answered)
                    return final
                handle, delay = status.task, None
            elif status.task:
                handle = status.task
                if entry["message"] != _message(handle):
                    entry["message"] = _message(handle)
                    run._status("waiting", task)
            elif not status.retryable:
                final = status
                return final
            # else: the server could not be reached; the task is still its, so look again later
    finally:
        if entry in run.waiting:
            run.waiting.remove(entry)
        detail = f"MCP task {handle['id']}: " + ("done" if final.ok else final.error or "ended")
        run._time_wait(
            "tool", function.name, since, task=task, call_id=call_id, ok=final.ok, detail=one_line(detail, 120)
        )


def _ask_people(
    run: AgentRun,
    task: Task,
    call_id: str,
    function: ToolFunction,
    arguments: dict[str, Any],
    request: McpTaskInput,
    status: ToolCallOutcome,
    round_number: int,
) -> Steps:
    """Put a task's questions to the run's people and send their answers; an error text when that failed."""
    if round_number > MAX_TASK_QUESTION_ROUNDS:
        return f"{function.name} kept asking for input; the task was cancelled"
    needed = status.input_required or {}
    entry = run._approval_entry(f"{call_id}-task{round_number}", function, arguments)
    entry.update(kind="input", questions=needed.get("questions") or {})
    decision, unanswered = yield from run._wait_for_person(task, entry)
    if unanswered is not None:
        return f"no one answered {function.name}'s questions ({unanswered}); the task was cancelled"
    answers = decision.get("input") if isinstance(decision.get("input"), dict) else {}
    approved = decision.get("approve") is True
    responses = {
        key: {"action": "accept", "content": answers.get(key) or {}} if approved else {"action": "decline"}
        for key in entry["questions"]
    }
    run.state.events.append(f"call {call_id} to {function.name}: task input round {round_number} answered")
    answered = McpTaskInput.model_validate({**request.payload(), "input_responses": responses})
    sent = ToolCallOutcome.model_validate((yield from run._activity(mcp_task_answer, answered.payload())))
    if not sent.ok:
        return f"the answers could not be sent to {function.name}: {sent.error}"
    return None


def _cancel(run: AgentRun, payload: dict[str, Any]) -> Steps:
    """Ask the server to stop the task; not raced against cancel, which may be what ended the wait."""
    try:
        yield run._call(mcp_task_cancel, payload)
    except Exception:  # best effort: the run ends its wait either way
        return
