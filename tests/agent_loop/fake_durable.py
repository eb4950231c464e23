"""Drive the agent orchestrator's generator without a host, resolving each yielded task in-process.

Like the SDK's own generator-driving test helpers, but it resolves activities by calling plain
functions and external events from a script, so the loop's decisions (tasks, budgets, approvals,
cancel, continue_as_new) are tested in milliseconds. Replay fidelity is the local host's job and is
tested there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.durable_functions.models.Task import TaskState

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(eq=False)
class FakeTask:
    kind: str
    name: str = ""
    payload: Any = None
    children: list[FakeTask] = field(default_factory=list)
    fire_at: datetime | None = None
    state: TaskState = TaskState.RUNNING
    result: Any = None
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeContext:
    def __init__(self, payload: Any, instance_id: str = "run-1") -> None:
        self._input = payload
        self.instance_id = instance_id
        self.current_utc_datetime = T0
        self.custom_status: Any = None
        self.statuses: list[Any] = []
        self.continued_with: Any = None
        self.is_replaying = False

    def get_input(self) -> Any:
        return self._input

    def call_activity(self, function: Any, payload: Any) -> FakeTask:
        name = getattr(getattr(function, "_function", None), "_name", None) or str(function)
        return FakeTask("activity", name, payload)

    def wait_for_external_event(self, name: str) -> FakeTask:
        return FakeTask("event", name)

    def create_timer(self, fire_at: datetime) -> FakeTask:
        return FakeTask("timer", fire_at=fire_at)

    def task_any(self, tasks: list[FakeTask]) -> FakeTask:
        return FakeTask("any", children=list(tasks))

    def task_all(self, tasks: list[FakeTask]) -> FakeTask:
        return FakeTask("all", children=list(tasks))

    def set_custom_status(self, status: Any) -> None:
        # A copy, as the host serialises it: the loop keeps mutating the lists it shows.
        self.custom_status = json.loads(json.dumps(status))
        self.statuses.append(self.custom_status)

    def continue_as_new(self, payload: Any) -> None:
        self.continued_with = payload


Activity = Callable[[dict[str, Any]], Any]
EventSource = Callable[[str, FakeContext], Any]
"""Given an event name, the payload to deliver now, or TIMEOUT to let the timer win, or None to wait."""

TIMEOUT = object()

CONVERSATION_ACTIVITIES: dict[str, Activity] = {
    "pending_messages": lambda payload: [],
    "record_conversation": lambda payload: {"recorded": True, "refused": 0},
}
"""The conversation store's activities, answered as for a run nobody writes to (unless a test says otherwise)."""

LISTENERS = ("message", "abort-")
"""Waits every race includes; a script that gives them nothing lets the race go on without them."""


@dataclass
class Driver:
    activities: dict[str, Activity]
    events: EventSource = lambda name, ctx: None
    cancel_after_activities: int | None = None
    step: timedelta = timedelta(seconds=1)
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def _activity(self, task: FakeTask, ctx: FakeContext) -> None:
        self.calls.append((task.name, task.payload))
        ctx.current_utc_datetime += self.step
        try:
            activity = self.activities.get(task.name) or CONVERSATION_ACTIVITIES[task.name]
            task.result = activity(task.payload)
            task.state = TaskState.SUCCEEDED
        except Exception as exc:  # an activity failure, as the host reports it
            task.result = exc
            task.state = TaskState.FAILED

    def _resolve_any(self, task: FakeTask, ctx: FakeContext) -> FakeTask:
        cancel = next((c for c in task.children if c.kind == "event" and c.name == "cancel"), None)
        if cancel is not None and self.cancel_after_activities is not None:
            if len(self.calls) >= self.cancel_after_activities:
                return cancel
        for child in task.children:
            if child.kind == "activity":
                self._activity(child, ctx)
                return child
            if child.kind == "all":
                for grandchild in child.children:
                    self._activity(grandchild, ctx)
                child.result = [g.result for g in child.children]
                child.state = TaskState.SUCCEEDED
                return child
        for child in task.children:
            if child.kind == "event" and child.name != "cancel":
                value = self.events(child.name, ctx)
                if value is TIMEOUT:
                    timer = next(c for c in task.children if c.kind == "timer")
                    assert timer.fire_at is not None
                    ctx.current_utc_datetime = timer.fire_at
                    timer.state = TaskState.SUCCEEDED
                    return timer
                if value is not None:
                    child.result = value
                    child.state = TaskState.SUCCEEDED
                    return child
                if child.name.startswith(LISTENERS):
                    continue
                raise AssertionError(f"the run waits for event {child.name!r} and the script gives none")
        alone = next((c for c in task.children if c.kind == "timer"), None)
        if alone is not None:  # a wait on a timer alone (and cancel): its time comes
            assert alone.fire_at is not None
            ctx.current_utc_datetime = max(ctx.current_utc_datetime, alone.fire_at)
            alone.state = TaskState.SUCCEEDED
            return alone
        raise AssertionError(f"nothing to resolve in {task}")

    def run(self, generator: Generator[Any, Any, Any], ctx: FakeContext) -> Any:
        try:
            task = next(generator)
            while True:
                assert task.kind == "any", f"every wait is raced against cancel; got {task.kind}"
                task = generator.send(self._resolve_any(task, ctx))
        except StopIteration as stop:
            return stop.value
