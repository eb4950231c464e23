"""Builders for DTFx history events, in the shape the Python SDK replays.

Events are plain dicts with DTFx field names (PascalCase, enum values as ints), exactly as
the .NET host serialises them with Newtonsoft; ``IsPlayed`` is set when an episode's body
is built, so stored events never carry it. See docs/durable-host.md, "The orchestration trigger's payload".
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum
from functools import lru_cache
from typing import Any

__all__ = [
    "Event",
    "EventType",
    "dtfx_time",
    "event_raised",
    "execution_completed",
    "execution_resumed",
    "execution_started",
    "execution_suspended",
    "execution_terminated",
    "orchestrator_completed",
    "orchestrator_started",
    "parse_time",
    "sub_orchestration_completed",
    "sub_orchestration_created",
    "sub_orchestration_failed",
    "task_completed",
    "task_failed",
    "task_scheduled",
    "timer_created",
    "timer_fired",
]

Event = dict[str, Any]


class EventType(IntEnum):
    """DTFx ``EventType`` numbers (DurableTask.Core History/EventType.cs)."""

    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_FAILED = 2
    EXECUTION_TERMINATED = 3
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_INSTANCE_CREATED = 7
    SUB_ORCHESTRATION_INSTANCE_COMPLETED = 8
    SUB_ORCHESTRATION_INSTANCE_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_SENT = 14
    EVENT_RAISED = 15
    CONTINUE_AS_NEW = 16
    GENERIC = 17
    HISTORY_STATE = 18
    EXECUTION_SUSPENDED = 19
    EXECUTION_RESUMED = 20


# DTFx OrchestrationStatus numbers, used in ExecutionCompleted.OrchestrationStatus.
ORCHESTRATION_STATUS_CODE = {"Completed": 1, "ContinuedAsNew": 2, "Failed": 3, "Terminated": 5}


@lru_cache(maxsize=256)
def dtfx_time(moment: datetime) -> str:
    """Format like .NET's round-trip "o" format in UTC: seven fractional digits and ``Z``.

    Cached: the events of one episode share their moment, and this runs for each of them.
    """
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")[:26] + "0Z"


def parse_time(text: str) -> datetime:
    """Parse an ISO timestamp from the SDK (``...%fZ``) or DTFx (seven digits) as aware UTC."""
    cleaned = text.strip()
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    head, sep, rest = cleaned.partition(".")
    if sep:
        digits = ""
        index = 0
        while index < len(rest) and rest[index].isdigit():
            digits += rest[index]
            index += 1
        cleaned = f"{head}.{digits[:6].ljust(6, '0')}{rest[index:]}"
    parsed = datetime.fromisoformat(cleaned)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _base(kind: EventType, event_id: int, at: datetime) -> Event:
    return {"EventType": int(kind), "EventId": event_id, "Timestamp": dtfx_time(at)}


def orchestrator_started(at: datetime) -> Event:
    return _base(EventType.ORCHESTRATOR_STARTED, -1, at)


def orchestrator_completed(at: datetime) -> Event:
    return _base(EventType.ORCHESTRATOR_COMPLETED, -1, at)


def execution_started(
    at: datetime,
    *,
    name: str,
    instance_id: str,
    execution_id: str,
    input_text: str | None,
    parent: dict[str, Any] | None,
) -> Event:
    """ExecutionStarted; ``Version`` must be present or the SDK fails (protocol §1.1)."""
    event = _base(EventType.EXECUTION_STARTED, -1, at)
    event.update(
        {
            "OrchestrationInstance": {"InstanceId": instance_id, "ExecutionId": execution_id},
            "ParentInstance": parent,
            "Name": name,
            "Version": "",
            "Input": input_text,
            "Tags": None,
            "Correlation": None,
            "ScheduledStartTime": None,
            "Generation": 0,
        }
    )
    return event


def execution_completed(at: datetime, *, status: str, result: str | None) -> Event:
    event = _base(EventType.EXECUTION_COMPLETED, -1, at)
    event.update({"OrchestrationStatus": ORCHESTRATION_STATUS_CODE[status], "Result": result, "FailureDetails": None})
    return event


def execution_terminated(at: datetime, reason: str | None) -> Event:
    event = _base(EventType.EXECUTION_TERMINATED, -1, at)
    event["Input"] = reason
    return event


def execution_suspended(at: datetime, reason: str | None) -> Event:
    event = _base(EventType.EXECUTION_SUSPENDED, -1, at)
    event["Reason"] = reason
    return event


def execution_resumed(at: datetime, reason: str | None) -> Event:
    event = _base(EventType.EXECUTION_RESUMED, -1, at)
    event["Reason"] = reason
    return event


def task_scheduled(at: datetime, event_id: int, name: str, input_text: str | None) -> Event:
    event = _base(EventType.TASK_SCHEDULED, event_id, at)
    event.update({"Name": name, "Version": "", "Input": input_text, "Tags": None})
    return event


def task_completed(at: datetime, task_id: int, result: str | None) -> Event:
    event = _base(EventType.TASK_COMPLETED, -1, at)
    event.update({"TaskScheduledId": task_id, "Result": result})
    return event


def task_failed(at: datetime, task_id: int, reason: str, details: str | None) -> Event:
    event = _base(EventType.TASK_FAILED, -1, at)
    event.update({"TaskScheduledId": task_id, "Reason": reason, "Details": details, "FailureDetails": None})
    return event


def sub_orchestration_created(
    at: datetime, event_id: int, name: str, instance_id: str, input_text: str | None
) -> Event:
    event = _base(EventType.SUB_ORCHESTRATION_INSTANCE_CREATED, event_id, at)
    event.update({"Name": name, "Version": "", "InstanceId": instance_id, "Input": input_text, "ClientSpanId": None})
    return event


def sub_orchestration_completed(at: datetime, task_id: int, result: str | None) -> Event:
    event = _base(EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED, -1, at)
    event.update({"TaskScheduledId": task_id, "Result": result})
    return event


def sub_orchestration_failed(at: datetime, task_id: int, reason: str, details: str | None) -> Event:
    event = _base(EventType.SUB_ORCHESTRATION_INSTANCE_FAILED, -1, at)
    event.update({"TaskScheduledId": task_id, "Reason": reason, "Details": details, "FailureDetails": None})
    return event


def timer_created(at: datetime, event_id: int, fire_at: datetime) -> Event:
    event = _base(EventType.TIMER_CREATED, event_id, at)
    event["FireAt"] = dtfx_time(fire_at)
    return event


def timer_fired(at: datetime, timer_id: int, fire_at: datetime) -> Event:
    event = _base(EventType.TIMER_FIRED, -1, at)
    event.update({"TimerId": timer_id, "FireAt": dtfx_time(fire_at)})
    return event


def event_raised(at: datetime, name: str, input_text: str | None) -> Event:
    event = _base(EventType.EVENT_RAISED, -1, at)
    event.update({"Name": name, "Input": input_text})
    return event
