"""One orchestration episode: which messages to deliver, the SDK body, and what its reply changes.

The host does what the .NET Durable extension does for an out-of-process orchestrator
(docs/durable-host.md): it replays the whole history plus the new events, takes the full
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
from datetime import datetime
from typing import Any

from durable_host import history as h
from durable_host.actions import (
    ActionBuilder,
    InstanceDirectory,
    advance_retry,
    flatten_actions,
    materialise,
    start_message,
)
from durable_host.errors import EpisodeError
from durable_host.history import Event, EventType
from durable_host.store import (
    TERMINAL_STATUSES,
    EpisodeCommit,
    ExecutionState,
    InstanceRow,
    MessageKind,
    MessageRow,
    NewMessage,
    RetryRecord,
    RuntimeStatus,
)

__all__ = [
    "OUT_OF_PROC_MARKER",
    "EpisodePlan",
    "OrchestratorReply",
    "finish",
    "give_up",
    "prepare",
    "sdk_body",
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
    action_offset: int = 0
    """How many actions (flattened) came before the reply's own: an orchestrator session drops
    the ones the host has already materialised instead of sending them again."""


@dataclass(frozen=True, kw_only=True)
class EpisodePlan:
    """The outcome of :func:`prepare`: either a body to run, or a commit needing no run."""

    instance: InstanceRow
    now: datetime
    consumed: list[int] = field(default_factory=list)
    markers: list[Event] = field(default_factory=list)
    new_events: list[Event] = field(default_factory=list)
    sdk_events: list[str] = field(default_factory=list)
    """What the SDK sees after the stored history: the markers, ``OrchestratorStarted(now)`` and
    the new events, as the JSON text of the body's history."""
    body: str | None = None
    retry_event: Event | None = None
    commit: EpisodeCommit | None = None


_UNPLAYED_END = ', "IsPlayed": false}'
_PLAYED_END = ', "IsPlayed": true}'


def _played(event: Event) -> str:
    return json.dumps({**event, "IsPlayed": True})


def _unplayed(event: Event) -> str:
    return json.dumps({**event, "IsPlayed": False})


def as_played(text: str) -> str:
    """``_played`` of the event whose ``_unplayed`` text this is, without encoding the event again.

    An episode's new events go to the SDK unplayed and into the history played; a model step's
    result is most of an episode's bytes, and this spares encoding it twice.
    """
    if text.endswith(_UNPLAYED_END):
        return text[: -len(_UNPLAYED_END)] + _PLAYED_END
    event = json.loads(text)  # IsPlayed was already among its keys: keep their order
    event["IsPlayed"] = True
    return json.dumps(event)


def _is_retry_event(event: Event, retries: dict[int, RetryRecord]) -> bool:
    kind = event["EventType"]
    if kind in (EventType.TASK_FAILED, EventType.SUB_ORCHESTRATION_INSTANCE_FAILED):
        record = retries.get(event["TaskScheduledId"])
        return record is not None and not record.waiting_on_timer
    if kind == EventType.TIMER_FIRED:
        record = retries.get(event["TimerId"])
        return record is not None and record.waiting_on_timer
    return False


def prepare(
    instance: InstanceRow,
    history: Sequence[str],
    messages: Sequence[MessageRow],
    now: datetime,
    *,
    with_body: bool = True,
) -> EpisodePlan:
    """Decide what this episode delivers; build the SDK body when the orchestrator must run.

    ``with_body=False`` leaves the body out for an orchestrator session, which takes only
    ``sdk_events``: building it is O(history).
    """
    consumed: list[int] = []
    markers: list[Event] = []
    new_events: list[Event] = []
    retry_event: Event | None = None
    status = instance.status
    output = instance.output

    if status in TERMINAL_STATUSES:
        commit = EpisodeCommit(instance=instance, consumed_message_ids=[m.id for m in messages])
        return EpisodePlan(instance=instance, now=now, commit=commit)

    for message in messages:
        if message.kind is MessageKind.TERMINATE:
            return _terminate(instance, [m.id for m in messages], now, message.payload)
        if message.kind is MessageKind.SUSPEND:
            consumed.append(message.id)
            if status in (RuntimeStatus.RUNNING, RuntimeStatus.PENDING):
                status = RuntimeStatus.SUSPENDED
                output = reason_as_output(message.payload)
                markers.append(h.execution_suspended(now, message.payload))
            continue
        if message.kind is MessageKind.RESUME:
            consumed.append(message.id)
            if status is RuntimeStatus.SUSPENDED:
                status = RuntimeStatus.RUNNING if history else RuntimeStatus.PENDING
                output = reason_as_output(message.payload)
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
    instance = instance.evolve(status=status, output=output)
    if not new_events:
        commit = EpisodeCommit(
            instance=instance.evolve(last_updated_time=h.dtfx_time(now)) if markers else instance,
            consumed_message_ids=consumed,
            history_append=[_played(m) for m in markers],
        )
        return EpisodePlan(instance=instance, now=now, consumed=consumed, markers=markers, commit=commit)

    sdk_events = [_played(m) for m in markers] + [_unplayed(e) for e in [h.orchestrator_started(now), *new_events]]
    return EpisodePlan(
        instance=instance,
        now=now,
        consumed=consumed,
        markers=markers,
        new_events=new_events,
        sdk_events=sdk_events,
        body=sdk_body(instance, history, sdk_events) if with_body else None,
        retry_event=retry_event,
    )


def sdk_body(instance: InstanceRow, history: Sequence[str], sdk_events: Sequence[str]) -> str:
    """The orchestration trigger's body: the whole history (played) plus this episode's events."""
    input_value = json.loads(instance.input) if instance.input is not None else None
    return (
        '{"history": ['
        + ",".join([*history, *sdk_events])
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


def reason_as_output(reason: Any) -> str:
    """The status ``output`` a suspend, resume or terminate reason gives, as JSON text.

    DTFx's Azure Storage tracking store copies the reason of ExecutionSuspended, ExecutionResumed
    and ExecutionTerminated into the instance's Output (``AzureTableTrackingStore.cs``,
    Azure/durabletask 52170329) and the extension reads it back with ``ParseToJToken``
    (``DurableClient.cs``, a7c6d694): JSON text becomes its value, other text stays a string,
    no reason is null.
    """
    if not isinstance(reason, str):
        return "null"
    text = reason.strip()
    try:
        return json.dumps(json.loads(text)) if text else '""'
    except json.JSONDecodeError:
        return json.dumps(text)


def _terminate(instance: InstanceRow, consumed: list[int], now: datetime, reason: Any) -> EpisodePlan:
    reason_text = reason if isinstance(reason, str) else None
    events = [
        h.orchestrator_started(now),
        h.execution_terminated(now, reason_text),
        h.orchestrator_completed(now),
    ]
    row = instance.evolve(
        status=RuntimeStatus.TERMINATED,
        output=reason_as_output(reason_text),
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
    return EpisodePlan(instance=row, now=now, consumed=consumed, commit=commit)


def give_up(instance: InstanceRow, consumed: list[int], now: datetime, reason: str) -> EpisodeCommit:
    """Fail an instance whose episodes keep failing in the host (a poison instance).

    Its pending messages are consumed, its work dropped and a parent told, as for any failure,
    so nothing retries it again.
    """
    output = json.dumps(f"Orchestrator function '{instance.name}' failed: {reason}")
    row = instance.evolve(
        status=RuntimeStatus.FAILED,
        output=output,
        last_updated_time=h.dtfx_time(now),
        state=replace(instance.state, retries={}),
    )
    events = [
        h.orchestrator_started(now),
        h.execution_completed(now, status="Failed", result=output),
        h.orchestrator_completed(now),
    ]
    return EpisodeCommit(
        instance=row,
        consumed_message_ids=consumed,
        history_append=[_played(e) for e in events],
        drop_pending=True,
        new_messages=_notify_parent(row, now, failed_reason=json.loads(output)),
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


def finish(plan: EpisodePlan, reply: OrchestratorReply, known: InstanceDirectory) -> EpisodeCommit:
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

    b = ActionBuilder(instance=instance, now=now, next_id=instance.state.next_id, retries=dict(instance.state.retries))
    for event in plan.new_events:
        if event["EventType"] in (EventType.TASK_COMPLETED, EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED):
            b.retries.pop(event["TaskScheduledId"], None)

    continue_input: str | None = None
    continue_as_new = False
    cursor = instance.state.cursor
    if error is None:
        try:
            offset = reply.action_offset
            leaves = flatten_actions(state.get("actions"))
            if offset + len(leaves) < cursor:
                raise EpisodeError(
                    f"Non-deterministic workflow detected: the orchestrator issued {offset + len(leaves)} "
                    f"actions but {cursor} were already scheduled"
                )
            if offset > cursor:
                raise EpisodeError(f"the reply's actions start at {offset}, past the {cursor} already scheduled")
            for action in leaves[cursor - offset :]:
                if action.get("actionType") == 4:
                    continue_as_new = True
                    continue_input = action.get("input")
                    continue
                materialise(b, action, known)
            cursor = offset + len(leaves)
            if plan.retry_event is not None:
                advance_retry(b, plan.retry_event, known)
        except EpisodeError as exc:
            error = str(exc)

    # prepare's sdk_events: the markers (played), then OrchestratorStarted(now) and the new events.
    played_events = plan.sdk_events[: len(plan.markers)] + [as_played(t) for t in plan.sdk_events[len(plan.markers) :]]
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

    suspended = instance.status is RuntimeStatus.SUSPENDED  # a suspend consumed in this episode
    row = instance.evolve(
        status=RuntimeStatus.SUSPENDED if suspended else RuntimeStatus.RUNNING,
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
