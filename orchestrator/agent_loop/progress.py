"""The run's live progress (custom status) and its final report, built from the state.

Custom status is capped at 16 KB by the Durable extension, so the progress view trims results
and lists until it fits.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from .planning import one_line
from .run_trace import trace_id_hex
from .state import CallRecord, RunState, Task
from .timeline import run_metrics

__all__ = ["MAX_STATUS_CHARS", "build_progress", "build_report"]

MAX_STATUS_CHARS = 15_000
RECENT_CALLS = 20


def _recent_calls(state: RunState, current: Task | None, text_chars: int) -> list[dict[str, Any]]:
    calls = [c for t in state.done for c in t.tool_calls]
    if current is not None:
        calls += current.tool_calls
    views = [asdict(c) for c in calls[-RECENT_CALLS:]]
    for view in views:
        view["arguments"] = one_line(view["arguments"], text_chars)
        view["summary"] = one_line(view["summary"], text_chars)
    return views


def build_progress(
    state: RunState,
    phase: str,
    *,
    current: Task | None = None,
    approvals: list[dict[str, Any]] | None = None,
    waiting: list[dict[str, Any]] | None = None,
    retrying: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What a watcher needs to follow the run; always under the custom-status limit."""
    result_chars, text_chars, shown = 200, 200, 50
    while True:
        view = {
            "objective": one_line(state.request["objective"], text_chars),
            "phase": phase,
            "iteration": state.iteration,
            "execution": state.execution,
            "current_task": {"id": current.id, "task": current.task, **network_fields(current)} if current else None,
            "pending": [{"id": t.id, "task": one_line(t.task, text_chars)} for t in state.pending[:shown]],
            "pending_count": len(state.pending),
            "done": [
                {
                    "id": t.id,
                    "task": one_line(t.task, text_chars),
                    "result": one_line(t.result, result_chars),
                    **network_fields(t),
                }
                for t in state.done[-shown * 2 :]
            ],
            "done_count": len(state.done),
            "tool_calls": _recent_calls(state, current, text_chars),
            "approvals": approvals or [],
            "waiting": waiting or [],
            "retrying": retrying or [],
            "usage": asdict(state.usage),
        }
        if len(json.dumps(view)) <= MAX_STATUS_CHARS or shown <= 2:
            return view
        # Too big: keep the newest entries and shorten texts, then measure again.
        result_chars, text_chars, shown = max(20, result_chars // 2), max(40, text_chars // 2), shown // 2


def network_fields(task: Task) -> dict[str, Any]:
    """A network task's agent, route and handoffs; nothing for a single-agent run's task."""
    if task.agent is None:
        return {}
    return {"agent": task.agent, "route": task.route, "handoffs": task.handoffs}


def _report_call(call: CallRecord) -> dict[str, Any]:
    moved = {"base_url": call.base_url} if call.base_url else {}
    return {"function": call.function, "ok": call.ok, "status": call.status, **moved}


def build_report(
    state: RunState, *, outcome: str, stop_reason: str, summary: str, model: str, finished_at: str = ""
) -> dict[str, Any]:
    """The run's output: what was asked, what was done, why it stopped, and what it cost."""
    return {
        "objective": state.request["objective"],
        "outcome": outcome,
        "stop_reason": stop_reason,
        "tasks": [
            {
                "id": t.id,
                "task": t.task,
                "result": t.result,
                "tool_calls": [_report_call(c) for c in t.tool_calls],
                **({"selected_tools": t.selected_tools} if t.selected_tools else {}),
                **({"failures": t.failures} if t.failures else {}),
                **network_fields(t),
            }
            for t in state.done
        ],
        "pending": [{"id": t.id, "task": t.task} for t in state.pending],
        "usage": asdict(state.usage),
        "trace_id": trace_id_hex(state.run_id),
        "metrics": run_metrics(
            state.timeline,
            ((c.function, c.ok) for t in state.done for c in t.tool_calls),
            started_at=state.started_at,
            finished_at=finished_at,
        ),
        "timeline": state.timeline,
        "events": state.events,
        "executions": state.execution + 1,
        "summary": summary,
        "model": model,
        "started_at": state.started_at,
        "finished_at": finished_at,
    }
