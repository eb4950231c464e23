"""One orchestration episode: which messages to deliver, the SDK body, and what its reply changes.

The host does what the .NET Durable extension does for an out-of-process orchestrator
(docs/durable-protocol.md): it replays the whole history plus the new events, takes the full
list of actions the SDK re-issues every episode, materialises only those past the cursor
(assigning event ids from one per-execution counter), and turns completion, failure and
``continue_as_new`` into the state changes DTFx makes. Everything here is pure: the engine
runs the orchestrator between :func:`prepare` and :func:`finish` and commits the result.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from durable_host import history as h
from durable_host.errors import EpisodeError
from durable_host.history import Event, EventType
from durable_host.store import (
    TERMINAL_STATUSES,
    EpisodeCommit,
    ExecutionState,
    InstanceRow,
    MessageKind,
    MessageRow,
    NewActivity,
    NewMessage,
    RetryRecord,
    RuntimeStatus,
)

__all__ = [
    "OUT_OF_PROC_MARKER",
    "EpisodePlan",
    "OrchestratorReply",
    "finish",
    "prepare",
    "start_message",
]

OUT_OF_PROC_MARKER = "\n\n$OutOfProcData$:"
LONG_TIMER_INTERVAL = "3.00:00:00"
MAX_SHORT_TIMER = "6.00:00:00"


@dataclass(frozen=True, kw_only=True)
class OrchestratorReply:
    """What ``Orchestrator.handle`` produced: its JSON text, or the text of what it raised."""

    text: str | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class EpisodePlan:
    """The outcome of :func:`prepare`: either a body to run, or a commit needing no run."""

    instance: InstanceRow
    now: datetime
    consumed: list[int]
    markers: list[Event]
    new_events: list[Event]
    body: str | None
    retry_event: Event | None
    commit: EpisodeCommit | None


@dataclass(kw_only=True)
class _Builder:
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


def _played(event: Event) -> str:
    return json.dumps({**event, "IsPlayed": True})


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
    return NewMessage(
        instance_id=row.instance_id, kind=MessageKind.EVENT, payload=event, execution_id=row.execution_id
    )


def _is_retry_event(event: Event, retries: dict[int, RetryRecord]) -> bool:
    kind = event["EventType"]
    if kind in (EventType.TASK_FAILED, EventType.SUB_ORCHESTRATION_FAILED):
        record = retries.get(event["TaskScheduledId"])
        return record is not None and not record.waiting_on_timer
    if kind == EventType.TIMER_FIRED:
        record = retries.get(event["TimerId"])
        return record is not None and record.waiting_on_timer
    return False


def prepare(
    instance: InstanceRow, history: Sequence[str], messages: Sequence[MessageRow], now: datetime
) -> EpisodePlan:
    """Decide what this episode delivers; build the SDK body when the orchestrator must run."""
    consumed: list[int] = []
    markers: list[Event] = []
    new_events: list[Event] = []
    retry_event: Event | None = None
    status = instance.status

    if status in TERMINAL_STATUSES:
        commit = EpisodeCommit(instance=instance, consumed_message_ids=[m.id for m in messages])
        return EpisodePlan(
            instance=instance,
            now=now,
            consumed=[],
            markers=[],
            new_events=[],
            body=None,
            retry_event=None,
            commit=commit,
        )

    for message in messages:
        if message.kind is MessageKind.TERMINATE:
            return _terminate(instance, [m.id for m in messages], now, message.payload)
        if message.kind is MessageKind.SUSPEND:
            consumed.append(message.id)
            if status in (RuntimeStatus.RUNNING, RuntimeStatus.PENDING):
                status = RuntimeStatus.SUSPENDED
                markers.append(h.execution_suspended(now, message.payload))
            continue
        if message.kind is MessageKind.RESUME:
            consumed.append(message.id)
            if status is RuntimeStatus.SUSPENDED:
                status = RuntimeStatus.RUNNING if history else RuntimeStatus.PENDING
                markers.append(h.execution_resumed(now, message.payload))
            continue
        if status is RuntimeStatus.SUSPENDED or retry_event is not None:
            continue
        if message.execution_id is not None and message.execution_id != instance.execution_id:
            consumed.append(message.id)  # a result for an execution that has since continued as new
            continue
        consumed.append(message.id)
        event: Event = message.payload
        new_events.append(event)
        if _is_retry_event(event, instance.state.retries):
            # The SDK assigns the retry's next id while processing this event, so it must be
            # the last one of the episode for the host's counter to stay in step.
            retry_event = event

    if not history:
        markers = []  # ExecutionStarted must stay the second event of the history
    instance = instance.evolve(status=status)
    if not new_events:
        commit = EpisodeCommit(
            instance=instance.evolve(last_updated_time=h.dtfx_time(now)) if markers else instance,
            consumed_message_ids=consumed,
            history_append=[_played(m) for m in markers],
        )
        return EpisodePlan(
            instance=instance,
            now=now,
            consumed=consumed,
            markers=markers,
            new_events=[],
            body=None,
            retry_event=None,
            commit=commit,
        )

    played = list(history) + [_played(m) for m in markers]
    fresh = [json.dumps({**e, "IsPlayed": False}) for e in [h.orchestrator_started(now), *new_events]]
    input_value = json.loads(instance.input) if instance.input is not None else None
    body = (
        '{"history": ['
        + ",".join(played + fresh)
        + "], "
        + json.dumps(
            {
                "input": input_value,
                "instanceId": instance.instance_id,
                "isReplaying": bool(history),
                "parentInstanceId": instance.parent["instance_id"] if instance.parent else None,
                "upperSchemaVersion": 1,
                "upperSchemaVersionNew": 2,
                "longRunningTimerIntervalDuration": LONG_TIMER_INTERVAL,
                "maximumShortTimerDuration": MAX_SHORT_TIMER,
                "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
            }
        )[1:]
    )
    return EpisodePlan(
        instance=instance,
        now=now,
        consumed=consumed,
        markers=markers,
        new_events=new_events,
        body=body,
        retry_event=retry_event,
        commit=None,
    )


def _terminate(instance: InstanceRow, consumed: list[int], now: datetime, reason: Any) -> EpisodePlan:
    reason_text = reason if isinstance(reason, str) else None
    events = [
        h.orchestrator_started(now),
        h.execution_terminated(now, reason_text),
        h.orchestrator_completed(now),
    ]
    row = instance.evolve(
        status=RuntimeStatus.TERMINATED,
        output=json.dumps(reason_text),
        last_updated_time=h.dtfx_time(now),
        state=replace(instance.state, retries={}),
    )
    notify = _notify_parent(row, now, failed_reason=f"Orchestration '{instance.name}' was terminated.")
    commit = EpisodeCommit(
        instance=row,
        consumed_message_ids=consumed,
        history_append=[_played(e) for e in events],
        drop_pending=True,
        new_messages=notify,
    )
    return EpisodePlan(
        instance=row,
        now=now,
        consumed=consumed,
        markers=[],
        new_events=[],
        body=None,
        retry_event=None,
        commit=commit,
    )


def _notify_parent(
    row: InstanceRow, now: datetime, *, result: str | None = None, failed_reason: str | None = None
) -> list[NewMessage]:
    if row.parent is None:
        return []
    task_id = int(row.parent["task_id"])
    if failed_reason is not None:
        event = h.sub_orchestration_failed(now, task_id, failed_reason, None)
    else:
        event = h.sub_orchestration_completed(now, task_id, result)
    return [
        NewMessage(
            instance_id=row.parent["instance_id"],
            kind=MessageKind.EVENT,
            payload=event,
            execution_id=row.parent["execution_id"],
        )
    ]


def _leaves(actions: Any) -> list[dict[str, Any]]:
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


def _parse_reply(reply: OrchestratorReply) -> tuple[dict[str, Any], str | None]:
    """The orchestrator state and, when it failed, the error text (protocol §1.3 b)."""
    if reply.error is not None:
        text = reply.error
        if OUT_OF_PROC_MARKER in text:
            head, _, data = text.partition(OUT_OF_PROC_MARKER)
            try:
                state = json.loads(data)
            except json.JSONDecodeError:
                return {}, head
            return state, str(state.get("error") or head)
        return {}, text
    assert reply.text is not None
    try:
        state = json.loads(reply.text)
    except json.JSONDecodeError as exc:
        return {}, f"orchestrator returned invalid JSON: {exc}"
    if not isinstance(state, dict):
        return {}, "orchestrator returned a non-object reply"
    if state.get("error"):
        return state, str(state["error"])
    return state, None


def finish(plan: EpisodePlan, reply: OrchestratorReply, known: Any) -> EpisodeCommit:
    """Apply the orchestrator's reply: new history, work items and status, as one commit.

    ``known`` answers ``is_orchestrator(name)`` so sub-orchestrations of unknown functions
    fail their task instead of creating an instance nobody can run.
    """
    instance = plan.instance
    now = plan.now
    state, error = _parse_reply(reply)
    custom = instance.custom_status
    if "customStatus" in state:
        custom = json.dumps(state["customStatus"])

    b = _Builder(
        instance=instance, now=now, next_id=instance.state.next_id, retries=dict(instance.state.retries)
    )
    for event in plan.new_events:
        if event["EventType"] in (EventType.TASK_COMPLETED, EventType.SUB_ORCHESTRATION_COMPLETED):
            b.retries.pop(event["TaskScheduledId"], None)

    continue_input: str | None = None
    continue_as_new = False
    cursor = instance.state.cursor
    if error is None:
        try:
            leaves = _leaves(state.get("actions"))
            if len(leaves) < cursor:
                raise EpisodeError(
                    f"Non-deterministic workflow detected: the orchestrator issued {len(leaves)} actions "
                    f"but {cursor} were already scheduled"
                )
            for action in leaves[cursor:]:
                if action.get("actionType") == 4:
                    continue_as_new = True
                    continue_input = action.get("input")
                    continue
                _materialise(b, action, known)
            cursor = len(leaves)
            if plan.retry_event is not None:
                _advance_retry(b, plan.retry_event, known)
        except EpisodeError as exc:
            error = str(exc)

    played_events = [_played(e) for e in [*plan.markers, h.orchestrator_started(now), *plan.new_events]]
    stamp = h.dtfx_time(now)

    if error is not None:
        output = f"Orchestrator function '{instance.name}' failed: {error}"
        row = instance.evolve(
            status=RuntimeStatus.FAILED,
            output=json.dumps(output),
            custom_status=custom,
            last_updated_time=stamp,
            state=ExecutionState(cursor=cursor, next_id=b.next_id),
        )
        closing = [
            h.execution_completed(now, status="Failed", result=json.dumps(output)),
            h.orchestrator_completed(now),
        ]
        return EpisodeCommit(
            instance=row,
            consumed_message_ids=plan.consumed,
            history_append=played_events + [_played(e) for e in closing],
            drop_pending=True,
            new_messages=_notify_parent(row, now, failed_reason=output),
        )

    if state.get("isDone") and continue_as_new:
        row = instance.evolve(
            status=RuntimeStatus.RUNNING,
            execution_id=uuid.uuid4().hex,
            input=json.dumps(continue_input),
            custom_status=custom,
            last_updated_time=stamp,
            state=ExecutionState(),
        )
        return EpisodeCommit(
            instance=row,
            consumed_message_ids=plan.consumed,
            reset_history=True,
            drop_pending=True,
            new_messages=[start_message(row, now)],
        )

    if state.get("isDone"):
        result = json.dumps(state.get("output"))
        row = instance.evolve(
            status=RuntimeStatus.COMPLETED,
            output=result,
            custom_status=custom,
            last_updated_time=stamp,
            state=ExecutionState(cursor=cursor, next_id=b.next_id),
        )
        closing = [
            h.execution_completed(now, status="Completed", result=result),
            h.orchestrator_completed(now),
        ]
        return EpisodeCommit(
            instance=row,
            consumed_message_ids=plan.consumed,
            history_append=played_events + [_played(e) for e in [*b.events, *closing]],
            drop_pending=True,
            new_messages=_notify_parent(row, now, result=result),
        )

    row = instance.evolve(
        status=RuntimeStatus.RUNNING,
        custom_status=custom,
        last_updated_time=stamp,
        state=ExecutionState(cursor=cursor, next_id=b.next_id, retries=b.retries),
    )
    return EpisodeCommit(
        instance=row,
        consumed_message_ids=plan.consumed,
        history_append=played_events + [_played(e) for e in [*b.events, h.orchestrator_completed(now)]],
        new_messages=b.messages,
        new_activities=b.activities,
        new_instances=b.children,
    )


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


def _materialise(b: _Builder, action: dict[str, Any], known: Any) -> None:
    kind = action.get("actionType")
    if kind in (0, 1):
        task_id = b.take_id()
        _schedule_activity(b, task_id, str(action.get("functionName")), action.get("input"))
        if kind == 1:
            b.retries[task_id] = _retry_record(action, "activity", None)
    elif kind in (2, 3):
        task_id = b.take_id()
        explicit = action.get("instanceId")
        child_id = _schedule_sub(
            b, task_id, str(action.get("functionName")), action.get("input"), explicit, known
        )
        if kind == 3:
            b.retries[task_id] = _retry_record(action, "sub", explicit or None)
            del child_id
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


def _schedule_activity(b: _Builder, task_id: int, name: str, input_text: str | None) -> None:
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


def _schedule_timer(b: _Builder, task_id: int, fire_at: datetime) -> None:
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
    b: _Builder, task_id: int, name: str, input_text: str | None, explicit: str | None, known: Any
) -> str:
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
        return child_id
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
    return child_id


def _advance_retry(b: _Builder, event: Event, known: Any) -> None:
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
    delay = (
        timedelta(milliseconds=record.first_interval_ms)
        if record.attempt < record.max_attempts
        else timedelta()
    )
    timer_id = b.take_id()
    _schedule_timer(b, timer_id, b.now + delay)
    b.retries[timer_id] = replace(record, waiting_on_timer=True)
