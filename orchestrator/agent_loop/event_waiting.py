"""A run's side of outside events: wait after a declared operation, or when the model asks to.

Deterministic orchestrator code. A wait shows itself in the run's progress (``waiting``, kind
"event", with its event name and match), which is how ``POST /api/events`` finds it; then it
asks for an event kept from before it started, and only then waits, raced against its
timeout, the run's deadline and cancel. A timeout is a tool result that says no answer came.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from openapi_engine import ToolFunction

from .activity_contracts import HeldEventLookup, ToolCallOutcome
from .events_api import find_held_event
from .outside_events import event_matches, resolve_match, wait_event_name
from .planning import one_line
from .state import Task

if TYPE_CHECKING:
    from .orchestration import AgentRun

__all__ = ["WAIT_FUNCTION", "remember_events", "wait_after_call", "wait_for_event_function", "wait_requested"]

Steps = Generator[Any, Any, Any]
WAIT_FUNCTION = "wait_for_event"
SEEN_KEPT = 200
MAX_WAIT_SECONDS = 30 * 86_400


def remember_events(seen: list[str], taken: list[str]) -> None:
    """Add the ids of events taken (here or by a sub-run) to ``seen``, keeping the newest."""
    seen.extend(event_id for event_id in taken if event_id not in seen)
    del seen[:-SEEN_KEPT]


def wait_for_outside_event(
    run: AgentRun, task: Task, call_id: str, label: str, name: str, expected: dict[str, Any], seconds: int
) -> Steps:
    """The matching event (a dict with name and data), or None when none came in time."""
    start = run.context.current_utc_datetime
    until = start + timedelta(seconds=seconds)
    entry = {
        "call_id": call_id,
        "wait_id": call_id,
        "function": label,
        "kind": "event",
        "event": name,
        "match": expected,
        "since": start.isoformat(),
        "expires_at": until.isoformat(),
        "message": one_line(f"waiting for {name} where {json.dumps(expected, ensure_ascii=False)}", 300),
    }
    run.waiting.append(entry)
    run._status("waiting", task)
    seen = run.state.seen_events
    # It looks only once this wait shows, so an event posted meanwhile is raised on it or kept for it.
    look = HeldEventLookup(
        name=name, match=expected, seen=seen[-SEEN_KEPT:], instance_id=run.context.instance_id, wait_id=call_id
    ).payload()
    from .orchestration import RunCancelled  # here: the orchestration module imports this one

    try:
        event: dict[str, Any] | None = yield from run._activity(find_held_event, look)
    except RunCancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - the wait shows, so events posted from now on still reach it
        event = None
        run.state.events.append(f"call {call_id}: could not look for kept {name} events ({one_line(str(exc), 120)})")
    while event is None:
        left = int((until - run.context.current_utc_datetime).total_seconds())
        if left <= 0:
            break
        payload, timed_out = yield from run._wait_for_event(wait_event_name(call_id), left)
        if timed_out:
            break
        if (
            isinstance(payload, dict)
            and payload.get("event_id") not in seen
            and payload.get("name") == name
            and event_matches(expected, payload.get("data"))
        ):
            event = payload
    run.waiting.remove(entry)
    run._status("executing", task)
    if event is not None:
        remember_events(seen, [str(event.get("event_id"))])
        run.state.events.append(f"call {call_id}: {name} event {event.get('event_id')} arrived")
    else:
        run.state.events.append(f"call {call_id}: no {name} event within {seconds} seconds")
    return event


def _no_answer(name: str, expected: dict[str, Any], seconds: int) -> str:
    return (
        f"no answer: no {name} event matching {json.dumps(expected, ensure_ascii=False)} arrived within "
        f"{seconds} seconds; the wait timed out, so carry on without it"
    )


def wait_after_call(
    run: AgentRun, task: Task, call_id: str, function: ToolFunction, arguments: dict[str, Any], outcome: ToolCallOutcome
) -> Steps:
    """After an operation that declares a wait: the tool result the model gets, and whether it counts as ok."""
    assert function.wait is not None
    spec = function.wait
    body = outcome.body
    response = outcome.json_body
    expected, problem = resolve_match(
        spec.match, inputs=dict(run.request.inputs), arguments=arguments, response=response
    )
    if problem is not None:
        return f"{body}\nerror: cannot wait for {spec.event}: {problem}", False
    seconds = int(spec.timeout_seconds or run.request.options.callback_timeout_seconds)
    event = yield from wait_for_outside_event(run, task, call_id, function.name, spec.event, expected, seconds)
    if event is None:
        return f"{body}\n{_no_answer(spec.event, expected, seconds)}", False
    # The event first: it is what the model waited for, and summaries keep the start.
    reply = {"event": _shown(event), "response": response if response is not None else body}
    return json.dumps(reply, ensure_ascii=False), True


def _shown(event: dict[str, Any]) -> dict[str, Any]:
    return {"name": event.get("name"), "data": event.get("data"), "received_at": event.get("received_at")}


def wait_for_event_function(events: list[str]) -> ToolFunction:
    """The built-in function an agent that lists ``events`` is offered."""
    parameters = {
        "type": "object",
        "properties": {
            "event": {"type": "string", "enum": list(events), "description": "The event to wait for."},
            "match": {
                "type": "object",
                "description": 'Event data fields and the values they must equal, e.g. {"ticketId": "T-1"}.',
                "additionalProperties": {"type": ["string", "number", "boolean"]},
                "minProperties": 1,
            },
            "timeout_seconds": {"type": "integer", "minimum": 1, "maximum": MAX_WAIT_SECONDS},
        },
        "required": ["event", "match"],
        "additionalProperties": False,
    }
    return ToolFunction(
        name=WAIT_FUNCTION,
        tool="toolmesh",
        operation_id=WAIT_FUNCTION,
        method="WAIT",
        path="",
        description=(
            "Pause until an outside event arrives whose data matches, e.g. a person's answer. "
            "Returns the event's data, or 'no answer' when none came before the timeout."
        ),
        parameters=parameters,
    )


def wait_requested(run: AgentRun, task: Task, call_id: str, arguments: dict[str, Any]) -> Steps:
    """The built-in wait_for_event: the tool result for the model."""
    name = str(arguments["event"])
    expected = dict(arguments["match"])
    seconds = int(arguments.get("timeout_seconds") or run.request.options.callback_timeout_seconds)
    event = yield from wait_for_outside_event(run, task, call_id, WAIT_FUNCTION, name, expected, seconds)
    if event is None:
        return _no_answer(name, expected, seconds), False
    return json.dumps({"event": _shown(event)}, ensure_ascii=False), True
