"""Turning the SDK's actions into history events and work items, as DTFx does.

The SDK re-issues every action of the execution each episode; only those past the
execution's cursor are new. Each new scheduling action takes the next event id from one
per-execution counter (activities, timers, sub-orchestrations, HTTP calls; external-event
waits take none), gets its history event, and becomes a work item: an activity row, a timer
message visible at its due time, or a child instance. Retries follow DTFx's RetryInterceptor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from durable_host import history as h
from durable_host.errors import EpisodeError
from durable_host.history import Event, EventType
from durable_host.store import (
    InstanceRow,
    MessageKind,
    NewActivity,
    NewMessage,
    RetryRecord,
)

__all__ = [
    "ActionBuilder",
    "InstanceDirectory",
    "advance_retry",
    "flatten_actions",
    "materialise",
    "start_message",
]


class InstanceDirectory(Protocol):
    """What materialising a sub-orchestration needs to know about other instances."""

    def is_orchestrator(self, name: str) -> bool: ...

    def is_active(self, instance_id: str) -> bool: ...


@dataclass(kw_only=True)
class ActionBuilder:
    """Mutable scratch state while the reply is applied."""

    instance: InstanceRow
    now: datetime
    next_id: int
    retries: dict[int, RetryRecord]
    events: list[Event] = field(default_factory=list)
    messages: list[NewMessage] = field(default_factory=list)
    activities: list[NewActivity] = field(default_factory=list)
    children: list[InstanceRow] = field(default_factory=list)

    def take_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


def start_message(row: InstanceRow, at: datetime) -> NewMessage:
    """The ExecutionStarted message that begins ``row``'s current execution."""
    value = json.loads(row.input) if row.input is not None else None
    input_text = value if isinstance(value, str) or value is None else json.dumps(value)
    parent = None
    if row.parent is not None:
        parent = {
            "Name": row.parent["name"],
            "OrchestrationInstance": {
                "InstanceId": row.parent["instance_id"],
                "ExecutionId": row.parent["execution_id"],
            },
            "TaskScheduleId": row.parent["task_id"],
            "Version": "",
        }
    event = h.execution_started(
        at,
        name=row.name,
        instance_id=row.instance_id,
        execution_id=row.execution_id,
        input_text=input_text,
        parent=parent,
    )
    return NewMessage(instance_id=row.instance_id, kind=MessageKind.EVENT, payload=event, execution_id=row.execution_id)


def flatten_actions(actions: Any) -> list[dict[str, Any]]:
    """Flatten the SDK's action lists depth-first, expanding WhenAny/WhenAll."""
    out: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if node.get("actionType") in (11, 12):
                walk(node.get("compoundActions") or [])
            else:
                out.append(node)
        else:
            raise EpisodeError(f"unexpected action in orchestrator output: {node!r}")

    walk(actions or [])
    return out


def _retry_record(action: dict[str, Any], kind: str, instance_id: str | None) -> RetryRecord:
    options = action.get("retryOptions") or {}
    try:
        first = int(options["firstRetryIntervalInMilliseconds"])
        attempts = int(options["maxNumberOfAttempts"])
    except (KeyError, TypeError, ValueError) as exc:
        raise EpisodeError(f"invalid retryOptions in action {action!r}") from exc
    return RetryRecord(
        kind=kind,
        name=str(action.get("functionName")),
        input=action.get("input"),
        instance_id=instance_id,
        first_interval_ms=first,
        max_attempts=attempts,
        attempt=1,
    )


def materialise(b: ActionBuilder, action: dict[str, Any], known: InstanceDirectory) -> None:
    kind = action.get("actionType")
    if kind in (0, 1):
        task_id = b.take_id()
        _schedule_activity(b, task_id, str(action.get("functionName")), action.get("input"))
        if kind == 1:
            b.retries[task_id] = _retry_record(action, "activity", None)
    elif kind in (2, 3):
        task_id = b.take_id()
        explicit = action.get("instanceId")
        _schedule_sub(b, task_id, str(action.get("functionName")), action.get("input"), explicit, known)
        if kind == 3:
            b.retries[task_id] = _retry_record(action, "sub", explicit or None)
    elif kind == 5:
        task_id = b.take_id()
        fire_at = h.parse_time(str(action.get("fireAt")))
        _schedule_timer(b, task_id, fire_at)
    elif kind == 6:
        return  # external events are keyed by name and need no history event
    elif kind in (7, 9):
        raise EpisodeError(
            "Durable entities are not supported by the local durable host "
            f"(the orchestrator called entity {action.get('instanceId')!r})"
        )
    elif kind == 8:
        task_id = b.take_id()
        _schedule_activity(b, task_id, "BuiltIn::HttpActivity", json.dumps(action.get("httpRequest")))
    else:
        raise EpisodeError(f"unsupported action type {kind!r} in orchestrator output")


def _schedule_activity(b: ActionBuilder, task_id: int, name: str, input_text: str | None) -> None:
    b.events.append(h.task_scheduled(b.now, task_id, name, input_text))
    b.activities.append(
        NewActivity(
            instance_id=b.instance.instance_id,
            execution_id=b.instance.execution_id,
            task_id=task_id,
            name=name,
            input=input_text,
        )
    )


def _schedule_timer(b: ActionBuilder, task_id: int, fire_at: datetime) -> None:
    b.events.append(h.timer_created(b.now, task_id, fire_at))
    b.messages.append(
        NewMessage(
            instance_id=b.instance.instance_id,
            kind=MessageKind.EVENT,
            payload=h.timer_fired(fire_at, task_id, fire_at),
            execution_id=b.instance.execution_id,
            visible_at=fire_at.timestamp(),
        )
    )


def _schedule_sub(
    b: ActionBuilder,
    task_id: int,
    name: str,
    input_text: str | None,
    explicit: str | None,
    known: InstanceDirectory,
) -> None:
    instance = b.instance
    child_id = explicit or f"{instance.instance_id}:{instance.execution_id[:8]}:{task_id}"
    b.events.append(h.sub_orchestration_created(b.now, task_id, name, child_id, input_text))
    failure: str | None = None
    if not known.is_orchestrator(name):
        failure = f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function."
    elif known.is_active(child_id):
        failure = f"An instance with ID '{child_id}' already exists."
    if failure is not None:
        b.messages.append(
            NewMessage(
                instance_id=instance.instance_id,
                kind=MessageKind.EVENT,
                payload=h.sub_orchestration_failed(b.now, task_id, failure, None),
                execution_id=instance.execution_id,
            )
        )
        return
    child = InstanceRow.new(
        instance_id=child_id,
        name=name,
        input_json=json.dumps(input_text),
        created_time=h.dtfx_time(b.now),
        parent={
            "instance_id": instance.instance_id,
            "execution_id": instance.execution_id,
            "task_id": task_id,
            "name": instance.name,
        },
    )
    b.children.append(child)
    b.messages.append(start_message(child, b.now))


def advance_retry(b: ActionBuilder, event: Event, known: InstanceDirectory) -> None:
    """DTFx RetryInterceptor: after a failure wait (a dummy timer after the last), then retry."""
    if event["EventType"] == EventType.TIMER_FIRED:
        record = b.retries.pop(event["TimerId"])
        if record.attempt >= record.max_attempts:
            return  # the SDK surfaces the failure now
        task_id = b.take_id()
        following = replace(record, attempt=record.attempt + 1, waiting_on_timer=False)
        if record.kind == "activity":
            _schedule_activity(b, task_id, record.name, record.input)
        else:
            _schedule_sub(b, task_id, record.name, record.input, record.instance_id, known)
        b.retries[task_id] = following
        return
    record = b.retries.pop(event["TaskScheduledId"])
    delay = timedelta(milliseconds=record.first_interval_ms) if record.attempt < record.max_attempts else timedelta()
    timer_id = b.take_id()
    _schedule_timer(b, timer_id, b.now + delay)
    b.retries[timer_id] = replace(record, waiting_on_timer=True)
