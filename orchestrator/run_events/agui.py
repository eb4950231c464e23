"""toolmesh's events as AG-UI events, built with the ``ag-ui-protocol`` package's models.

Each builder returns the event's wire JSON (camelCase, optional fields left out), ready to be
stored and sent. Timestamps are milliseconds since the epoch, given by the caller, so the
orchestrator can build events from its own replay-safe clock. toolmesh's own events (tasks,
approvals, callbacks, usage) are ``CUSTOM`` events named ``toolmesh.*``.

An approval the run waits for is an AG-UI interrupt: ``RUN_FINISHED`` with an ``interrupt``
outcome naming the call, then ``RUN_STARTED`` (same thread, a new run id) once it is decided.
The run's real end is the one ``RUN_FINISHED`` without an interrupt (or ``RUN_ERROR``), always
published under the key ``FINAL_KEY``.
"""

from __future__ import annotations

from typing import Any

from ag_ui.core import (
    CustomEvent,
    Interrupt,
    RunErrorEvent,
    RunFinishedCancelledOutcome,
    RunFinishedEvent,
    RunFinishedInterruptOutcome,
    RunFinishedSuccessOutcome,
    RunStartedEvent,
    StateDeltaEvent,
    StateSnapshotEvent,
    StepFinishedEvent,
    StepStartedEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
)
from ag_ui.core.events import BaseEvent

__all__ = [
    "FINAL_KEY",
    "custom",
    "is_final",
    "run_error",
    "run_finished",
    "run_resumed",
    "run_started",
    "state_delta",
    "state_snapshot",
    "step_finished",
    "step_started",
    "text_content",
    "text_end",
    "text_start",
    "tool_call_args",
    "tool_call_end",
    "tool_call_result",
    "tool_call_start",
]

FINAL_KEY = "run-end"
"""The key of a run's closing event: whoever publishes it first (the run, or a watcher that
found the run ended without one), it is in the stream once."""

Event = dict[str, Any]


def _wire(event: BaseEvent) -> Event:
    wire: Event = event.model_dump(mode="json", by_alias=True)
    return wire


def run_started(run_id: str, at_ms: int, *, segment: str | None = None) -> Event:
    """The run starts (``segment`` None), or resumes after an interrupt under a new AG-UI run id."""
    return _wire(
        RunStartedEvent(
            thread_id=run_id,
            run_id=run_id if segment is None else f"{run_id}~{segment}",
            timestamp=at_ms,
        )
    )


def run_resumed(run_id: str, call_id: str, at_ms: int) -> Event:
    """The AG-UI run that follows the interrupt of ``call_id``."""
    return run_started(run_id, at_ms, segment=call_id)


def run_finished(
    run_id: str,
    at_ms: int,
    *,
    agui_run_id: str | None = None,
    result: Any = None,
    cancelled: bool = False,
    interrupts: list[dict[str, Any]] | None = None,
) -> Event:
    """The run (or the AG-UI run before an interrupt) ends; ``interrupts`` makes it a pause."""
    if interrupts:
        outcome: Any = RunFinishedInterruptOutcome(interrupts=[Interrupt.model_validate(i) for i in interrupts])
    elif cancelled:
        outcome = RunFinishedCancelledOutcome()
    else:
        outcome = RunFinishedSuccessOutcome()
    return _wire(
        RunFinishedEvent(
            thread_id=run_id, run_id=agui_run_id or run_id, result=result, outcome=outcome, timestamp=at_ms
        )
    )


def run_error(message: str, at_ms: int, *, code: str | None = None) -> Event:
    return _wire(RunErrorEvent(message=message, code=code, timestamp=at_ms))


def is_final(event: Event) -> bool:
    """Whether ``event`` ends the run's stream: ``RUN_ERROR``, or ``RUN_FINISHED`` that is not a pause."""
    kind = event.get("type")
    if kind == "RUN_ERROR":
        return True
    outcome = event.get("outcome")
    return kind == "RUN_FINISHED" and not (isinstance(outcome, dict) and outcome.get("type") == "interrupt")


def state_snapshot(snapshot: dict[str, Any], at_ms: int) -> Event:
    return _wire(StateSnapshotEvent(snapshot=snapshot, timestamp=at_ms))


def state_delta(changes: dict[str, Any], at_ms: int) -> Event:
    """A JSON Patch replacing each top-level key of the state with its new value."""
    patch = [{"op": "replace", "path": f"/{key}", "value": value} for key, value in changes.items()]
    return _wire(StateDeltaEvent.model_validate({"delta": patch, "timestamp": at_ms}))


def step_started(name: str, at_ms: int) -> Event:
    return _wire(StepStartedEvent(step_name=name, timestamp=at_ms))


def step_finished(name: str, at_ms: int) -> Event:
    return _wire(StepFinishedEvent(step_name=name, timestamp=at_ms))


def text_start(message_id: str, at_ms: int, *, name: str | None = None) -> Event:
    return _wire(TextMessageStartEvent(message_id=message_id, role="assistant", name=name, timestamp=at_ms))


def text_content(message_id: str, delta: str, at_ms: int) -> Event:
    # Built by hand: this and ``tool_call_args`` are most of a stream's events, and the model's
    # validation and dump cost more than the rest of publishing them. Their shape is the model's
    # (a test compares the two).
    return {"type": "TEXT_MESSAGE_CONTENT", "timestamp": at_ms, "messageId": message_id, "delta": delta}


def text_end(message_id: str, at_ms: int) -> Event:
    return _wire(TextMessageEndEvent(message_id=message_id, timestamp=at_ms))


def tool_call_start(call_id: str, name: str, at_ms: int, *, parent_message_id: str | None = None) -> Event:
    return _wire(
        ToolCallStartEvent(
            tool_call_id=call_id, tool_call_name=name, parent_message_id=parent_message_id, timestamp=at_ms
        )
    )


def tool_call_args(call_id: str, delta: str, at_ms: int) -> Event:
    return {"type": "TOOL_CALL_ARGS", "timestamp": at_ms, "toolCallId": call_id, "delta": delta}


def tool_call_end(call_id: str, at_ms: int) -> Event:
    return _wire(ToolCallEndEvent(tool_call_id=call_id, timestamp=at_ms))


def tool_call_result(call_id: str, content: str, at_ms: int) -> Event:
    return _wire(
        ToolCallResultEvent(message_id=f"result-{call_id}", tool_call_id=call_id, content=content, role="tool",
                            timestamp=at_ms)
    )  # fmt: skip


def custom(name: str, value: Any, at_ms: int) -> Event:
    """A toolmesh event without an AG-UI counterpart; ``name`` is ``toolmesh.<what>``."""
    return _wire(CustomEvent(name=name, value=value, timestamp=at_ms))
