"""A run's progress as live events, built by the orchestrator and published by its next activity.

The orchestrator may do no I/O, so it only collects events here; ``AgentRun._call`` hands them
to the next activity that publishes (``activities.PUBLISHING``), and before a wait the run calls
``publish_events`` so a person sees the question at once. Everything here is deterministic: the
time is the orchestration's clock and each event's key is its place in the execution, so replay
builds the same events with the same keys, and an event published twice is kept once.

A network's sub-run publishes into its run's stream (``stream``), showing its tool calls and
approvals there; only the run itself says when it started and finished and what it is doing.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import azure.durable_functions as df

from run_events import (
    FINAL_KEY,
    custom,
    run_error,
    run_finished,
    run_resumed,
    run_started,
    state_delta,
    state_snapshot,
    step_finished,
    step_started,
    tool_call_result,
)

from .live_events import agui_call_id
from .planning import one_line
from .state import RunState, Task

__all__ = ["RunEvents"]

TOOL_RESULT_CHARS = 2000


class RunEvents:
    def __init__(self, context: df.DurableOrchestrationContext, state: RunState, stream: str | None) -> None:
        self._context = context
        self._state = state
        self._instance = context.instance_id
        self.stream: str = stream or context.instance_id
        """The run whose stream the events go to (a sub-run's is its run's)."""
        self._own = self.stream == self._instance
        self._pending: list[list[Any]] = []
        self._count = 0
        self._shown: dict[str, Any] = {}
        self._agui_run = self.stream
        self._task_step: str | None = None
        """The AG-UI step of the task being worked on: closed before an interrupt, opened again after."""
        self._event_ids: dict[str, str] = {}

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def take(self) -> list[list[Any]]:
        """The events collected since the last take, as ``[key, event]`` pairs, with the usage if it changed."""
        self._usage()
        taken, self._pending = self._pending, []
        return taken

    def _usage(self) -> None:
        if self._own:
            usage = asdict(self._state.usage)
            if usage != self._shown.get("usage"):
                self._add(state_delta({"usage": usage}, self._ms()))
                self._shown["usage"] = usage

    def _ms(self) -> int:
        return int(self._context.current_utc_datetime.timestamp() * 1000)

    def _add(self, event: dict[str, Any], key: str | None = None) -> None:
        self._count += 1
        self._pending.append([key or f"{self._instance}:{self._state.execution}:{self._count}", event])

    # -- the run -------------------------------------------------------------------------------

    def run_started(self, objective: str) -> None:
        if not self._own:
            return
        self._shown = {"phase": "planning", "iteration": 0, "task": None, "usage": asdict(self._state.usage)}
        at = self._ms()
        self._add(run_started(self.stream, at))
        self._add(state_snapshot({"objective": objective, "tasks": [], **self._shown}, at))

    def phase(self, phase: str, current: Task | None) -> None:
        """Phase, iteration and current task, as a state delta of what changed."""
        self._task_step = f"task {current.id}" if current is not None else None
        if not self._own:
            return
        view = {"phase": phase, "iteration": self._state.iteration, "task": current.id if current else None}
        changed = {key: value for key, value in view.items() if self._shown.get(key, ...) != value}
        if changed:
            self._shown.update(changed)
            self._add(state_delta(changed, self._ms()))

    def run_finished(self, outcome: str, stop_reason: str, summary: str) -> None:
        if not self._own:
            return
        self._usage()  # nothing may follow the closing event
        at = self._ms()
        result = {"outcome": outcome, "stop_reason": stop_reason, "summary": summary}
        self._add(custom("toolmesh.run_finished", {**result, "usage": asdict(self._state.usage)}, at))
        if outcome == "failed":
            self._add(run_error(stop_reason, at, code="run_failed"), FINAL_KEY)
        else:
            closing = run_finished(self.stream, at, agui_run_id=self._agui_run, result=result,
                                   cancelled=outcome == "cancelled")  # fmt: skip
            self._add(closing, FINAL_KEY)

    # -- tasks ---------------------------------------------------------------------------------

    def task_ids(self) -> set[int]:
        return {task.id for task in self._state.pending} | {task.id for task in self._state.done}

    def tasks_added(self, known: set[int]) -> None:
        at = self._ms()
        for task in self._state.pending:
            if task.id not in known and self._own:
                self._add(custom("toolmesh.task_added", {"id": task.id, "task": task.task}, at))

    def task_started(self, task: Task) -> None:
        if self._own:
            at = self._ms()
            self._add(step_started(f"task {task.id}", at))
            self._add(custom("toolmesh.task_started", {"id": task.id, "task": task.task}, at))

    def task_finished(self, task: Task) -> None:
        if self._own:
            at = self._ms()
            finished = {"id": task.id, "task": task.task, "result": one_line(task.result or "", 300)}
            self._add(custom("toolmesh.task_finished", finished, at))
            self._add(step_finished(f"task {task.id}", at))

    # -- calls and waits -----------------------------------------------------------------------

    def name_call(self, call_id: str, event_id: str | None) -> None:
        """Note the id the model step's events gave the run's call ``call_id`` (None: they used the run's own)."""
        if event_id:
            self._event_ids[call_id] = event_id

    def event_call_id(self, call_id: str) -> str:
        """The id the events of the run's call ``call_id`` go by (AG-UI's ``toolCallId``)."""
        return self._event_ids.get(call_id) or agui_call_id(self._instance, call_id)

    def tool_result(self, call_id: str, reply: str) -> None:
        """The answer to a call the run made itself (a built-in) or did not make (invalid, denied)."""
        self._add(tool_call_result(self.event_call_id(call_id), reply[:TOOL_RESULT_CHARS], self._ms()))

    def approval_asked(self, entry: dict[str, Any]) -> None:
        """An approval (or a tool's questions) as an AG-UI interrupt: the AG-UI run pauses on it."""
        self._usage()  # nothing of the run may come between the pause and its resumption
        at = self._ms()
        call_id = str(entry["call_id"])
        kind = str(entry.get("kind") or "approval")
        self._add(custom("toolmesh.approval_asked", {**entry, "kind": kind, "run_id": self._instance}, at))
        base_call = call_id.split("-input", 1)[0]
        interrupt = {
            "id": call_id,
            "reason": "input_required" if kind == "input" else "tool_approval",
            "message": f"{entry.get('function')}: {entry.get('method')} {entry.get('path')}",
            "toolCallId": self.event_call_id(base_call),
            "expiresAt": entry.get("expires_at"),
        }
        if self._task_step:  # an AG-UI run ends with no step open
            self._add(step_finished(self._task_step, at))
        self._add(run_finished(self.stream, at, agui_run_id=self._agui_run, interrupts=[interrupt]))

    def approval_decided(self, call_id: str, verdict: str) -> None:
        """The AG-UI run resumes; the run API publishes the same two events (same keys) when a person decides."""
        at = self._ms()
        for key, event in decision_events(self.stream, self._instance, call_id, verdict, at):
            self._add(event, key)
        if self._task_step:
            self._add(step_started(self._task_step, at))
        self._agui_run = f"{self.stream}~{call_id}"

    def callback_waiting(self, entry: dict[str, Any]) -> None:
        shown = {k: entry.get(k) for k in ("call_id", "function", "since", "expires_at", "message")}
        self._add(custom("toolmesh.callback_waiting", {**shown, "run_id": self._instance}, self._ms()))

    def callback_ended(self, call_id: str, how: str) -> None:
        self._add(*callback_event(self._instance, call_id, how, self._ms()))


def decision_events(
    stream: str, instance_id: str, call_id: str, verdict: str, at_ms: int
) -> list[tuple[str, dict[str, Any]]]:
    """A decided approval's events, with the keys that keep them once whoever publishes first."""
    decided = {"call_id": call_id, "verdict": verdict, "run_id": instance_id}
    return [
        (f"{instance_id}:resume:{call_id}", run_resumed(stream, call_id, at_ms)),
        (f"{instance_id}:decided:{call_id}", custom("toolmesh.approval_decided", decided, at_ms)),
    ]


def callback_event(instance_id: str, call_id: str, how: str, at_ms: int) -> tuple[dict[str, Any], str]:
    """A callback wait's end (received, timed out, cancelled), keyed so it is published once."""
    ended = {"call_id": call_id, "how": how, "run_id": instance_id}
    return custom("toolmesh.callback_ended", ended, at_ms), f"{instance_id}:callback:{call_id}"
