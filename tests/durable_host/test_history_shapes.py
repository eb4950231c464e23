"""Conformance of the history the host builds, checked episode by episode with the real SDK.

Each test drives :mod:`durable_host.episode` with an unmodified ``df.Orchestrator`` and
compares the stored history with the shapes of docs/durable-host.md and of the
SDK's own tests (``tests/orchestrator/test_sequential_orchestrator_with_retry.py`` and
``tests/test_utils/ContextBuilder.py`` in the azure-functions-durable 1.7.0 wheel).

Every test runs twice: with full replays only, and with orchestrator sessions, where each
episode also runs on the instance's session and must commit exactly what the full replay does.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import azure.durable_functions as df
import pytest

from durable_host import episode, sessions
from durable_host import history as h
from durable_host.invoke import run_orchestrator
from durable_host.sessions import SessionCache
from durable_host.store import (
    EpisodeCommit,
    InstanceRow,
    MessageKind,
    MessageRow,
    NewMessage,
    RuntimeStatus,
)

T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True, params=["replay", "sessions"])
def episode_mode(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with full replays only, then with sessions checked against full replays."""
    Sim.with_sessions = request.param == "sessions"
    yield request.param
    Sim.with_sessions = False


@dataclass
class Sim:
    """A single-instance host in memory: the same episode code, with a hand-driven clock."""

    orchestrators: dict[str, Any]
    instance: InstanceRow
    history: list[str] = field(default_factory=list)
    queue: list[MessageRow] = field(default_factory=list)
    children: list[InstanceRow] = field(default_factory=list)
    activities: list[Any] = field(default_factory=list)
    now: datetime = T0
    _ids: int = 0
    cache: SessionCache = field(default_factory=SessionCache)
    resumed: int = 0
    with_sessions = False  # set per test by the episode_mode fixture

    @classmethod
    def start(cls, fn: Any, input_value: Any = None, name: str = "orch", **others: Any) -> Sim:
        orchestrators = {
            name: df.Orchestrator.create(fn),
            **{k: df.Orchestrator.create(v) for k, v in others.items()},
        }
        row = InstanceRow.new(
            instance_id="inst-1",
            name=name,
            input_json=json.dumps(json.dumps(input_value)) if input_value is not None else None,
            created_time=h.dtfx_time(T0),
            execution_id="exec-1",
        )
        sim = cls(orchestrators=orchestrators, instance=row)
        sim.push(episode.start_message(row, T0))
        return sim

    def push(self, message: NewMessage) -> None:
        self._ids += 1
        self.queue.append(
            MessageRow(
                id=self._ids,
                instance_id=message.instance_id,
                execution_id=message.execution_id,
                kind=message.kind,
                payload=message.payload,
                visible_at=message.visible_at,
            )
        )

    def is_orchestrator(self, name: str) -> bool:
        return name in self.orchestrators

    def is_active(self, instance_id: str) -> bool:
        return False

    def step(self, seconds: float = 1.0) -> EpisodeCommit:
        self.now += timedelta(seconds=seconds)
        visible = [m for m in self.queue if m.instance_id == "inst-1" and m.visible_at <= self.now.timestamp()]
        plan = episode.prepare(self.instance, self.history, visible, self.now)
        if plan.commit is not None:
            commit = plan.commit
        else:
            assert plan.body is not None
            handle = self.orchestrators[self.instance.name]
            commit = self._finish(plan, run_orchestrator(handle, plan.body))
            if self.with_sessions:
                self._check_session(handle, plan, commit)
        consumed = set(commit.consumed_message_ids)
        self.queue = [m for m in self.queue if m.id not in consumed]
        if commit.drop_pending:
            self.queue = [m for m in self.queue if m.kind is not MessageKind.EVENT]
        if commit.reset_history:
            self.history = []
        self.history.extend(commit.history_append)
        self.instance = commit.instance
        for message in commit.new_messages:
            self.push(message)
        self.activities.extend(commit.new_activities)
        self.children.extend(commit.new_instances)
        return commit

    def _finish(self, plan: episode.EpisodePlan, reply: episode.OrchestratorReply) -> EpisodeCommit:
        # continue_as_new draws a new execution id: the same one for both runs of an episode
        execution = uuid.UUID(int=self._ids * 1000 + len(self.history))
        with mock.patch("uuid.uuid4", return_value=execution):
            return episode.finish(plan, reply, self)

    def _check_session(self, handle: Any, plan: episode.EpisodePlan, commit: EpisodeCommit) -> None:
        """Run the episode on the session, as the engine does; it must commit what the replay did."""
        instance = self.instance
        session = self.cache.take(instance.instance_id, instance.execution_id, len(self.history))
        if session is None:
            assert plan.body is not None
            reply, session = sessions.start(handle, plan.body, instance.execution_id)
        else:
            reply = session.resume(self.history, plan.sdk_events)
            self.resumed += 1
        assert self._finish(plan, reply) == commit
        kept = sessions.after_commit(session, commit, len(self.history) + len(plan.sdk_events))
        if kept is not None:
            self.cache.put(instance.instance_id, kept)

    def complete(self, task_id: int, value: Any) -> None:
        self.push(
            NewMessage(
                instance_id="inst-1",
                kind=MessageKind.EVENT,
                execution_id=self.instance.execution_id,
                payload=h.task_completed(self.now, task_id, json.dumps(value)),
            )
        )

    def fail(self, task_id: int, reason: str) -> None:
        self.push(
            NewMessage(
                instance_id="inst-1",
                kind=MessageKind.EVENT,
                execution_id=self.instance.execution_id,
                payload=h.task_failed(self.now, task_id, reason, "details"),
            )
        )

    def raise_event(self, name: str, input_text: str) -> None:
        self.push(
            NewMessage(
                instance_id="inst-1",
                kind=MessageKind.EVENT,
                payload=h.event_raised(self.now, name, input_text),
            )
        )

    def shape(self) -> list[tuple[int, int, Any]]:
        """(EventType, EventId, the field that links it) for every stored event."""
        out = []
        for text in self.history:
            e = json.loads(text)
            link = e.get("TaskScheduledId", e.get("TimerId", e.get("Name")))
            out.append((e["EventType"], e["EventId"], link))
        return out


OS, OC, ES = (12, -1, None), (13, -1, None), (0, -1, "orch")


def test_activity_sequence_history_matches_protocol_shape_a() -> None:
    def orch(context):
        r = yield context.call_activity("hello", "Tokyo")
        return [r]

    sim = Sim.start(orch)
    sim.step()
    assert sim.shape() == [OS, ES, (4, 0, "hello"), OC]
    assert sim.activities[0].input == '"Tokyo"'
    assert all(json.loads(t)["IsPlayed"] for t in sim.history)
    sim.complete(0, "Hello Tokyo")
    sim.step()
    assert sim.shape() == [OS, ES, (4, 0, "hello"), OC, OS, (5, -1, 0), (1, -1, None), OC]
    assert sim.instance.status is RuntimeStatus.COMPLETED
    assert json.loads(sim.instance.output or "null") == ["Hello Tokyo"]


def test_execution_started_carries_version_and_instance() -> None:
    def orch(context):
        return context.get_input()

    sim = Sim.start(orch, {"a": 1})
    sim.step()
    started = json.loads(sim.history[1])
    assert started["Version"] == ""
    assert started["OrchestrationInstance"] == {"InstanceId": "inst-1", "ExecutionId": "exec-1"}
    assert started["Input"] == '{"a": 1}'
    assert json.loads(sim.instance.output or "null") == {"a": 1}


def test_uncaught_activity_failure_fails_with_host_message_shape_b() -> None:
    def orch(context):
        yield context.call_activity("hello", "Tokyo")

    sim = Sim.start(orch)
    sim.step()
    sim.fail(0, "Activity function 'hello' failed: boom")
    sim.step()
    assert sim.instance.status is RuntimeStatus.FAILED
    assert json.loads(sim.instance.output or "null").startswith(
        "Orchestrator function 'orch' failed: Activity function 'hello' failed: boom"
    )
    assert sim.shape()[-2:] == [(1, -1, None), OC]


def test_external_event_needs_no_history_event_until_raised_shape_c() -> None:
    def orch(context):
        return (yield context.wait_for_external_event("Approval"))

    sim = Sim.start(orch)
    sim.step()
    assert sim.shape() == [OS, ES, OC]
    sim.raise_event("Approval", '{"ok": true}')
    sim.step()
    assert sim.shape()[4] == (15, -1, "Approval")
    assert json.loads(sim.instance.output or "null") == {"ok": True}


def test_timer_created_and_fired_at_its_due_time_shape_d() -> None:
    def orch(context):
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=30))
        return "done"

    sim = Sim.start(orch)
    sim.step()
    assert sim.shape()[2][:2] == (10, 0)
    assert json.loads(sim.history[2])["FireAt"] == "2024-05-01T10:00:31.0000000Z"
    sim.step(5)
    assert sim.instance.status is RuntimeStatus.RUNNING  # nothing visible yet: no episode output
    sim.step(30)
    assert sim.shape()[-4:] == [OS, (11, -1, 0), (1, -1, None), OC]
    assert json.loads(sim.instance.output or "null") == "done"


def test_task_any_timer_takes_id_zero_and_event_wins_shape_e() -> None:
    def orch(context):
        timer = context.create_timer(context.current_utc_datetime + timedelta(minutes=5))
        event = context.wait_for_external_event("Approval")
        winner = yield context.task_any([event, timer])
        if winner == event:
            timer.cancel()
            return {"approved": event.result}
        return "timeout"

    sim = Sim.start(orch)
    sim.step()
    assert sim.shape() == [OS, ES, (10, 0, None), OC]
    sim.raise_event("Approval", '"yes"')
    sim.step()
    assert json.loads(sim.instance.output or "null") == {"approved": "yes"}


def test_fan_out_ids_in_yield_order_and_completions_in_any_order() -> None:
    def orch(context):
        values = yield context.task_all([context.call_activity("double", n) for n in range(3)])
        return values

    sim = Sim.start(orch)
    sim.step()
    assert sim.shape()[2:5] == [(4, 0, "double"), (4, 1, "double"), (4, 2, "double")]
    sim.complete(2, 4)
    sim.step()
    assert sim.instance.status is RuntimeStatus.RUNNING
    sim.complete(0, 0)
    sim.complete(1, 2)
    sim.step()
    assert json.loads(sim.instance.output or "null") == [0, 2, 4]


def test_continue_as_new_starts_fresh_execution_and_drops_unconsumed_events_shape_f() -> None:
    def orch(context):
        n = context.get_input() or 0
        yield context.call_activity("hello", n)
        if n < 1:
            context.continue_as_new(n + 1)
            return None
        return n

    sim = Sim.start(orch)
    sim.step()
    sim.raise_event("Unused", '"x"')
    sim.complete(0, "hi")
    first_execution = sim.instance.execution_id
    commit = sim.step()
    assert commit.reset_history and commit.drop_pending
    assert sim.instance.execution_id != first_execution
    assert sim.instance.input == json.dumps("1")
    assert sim.history == []
    sim.step()
    assert sim.shape() == [OS, ES, (4, 0, "hello"), OC]
    assert all(json.loads(m.payload.get("Name") and "null" or "null") is None for m in sim.queue)
    sim.complete(0, "hi")
    sim.step()
    assert json.loads(sim.instance.output or "null") == 1


def test_sub_orchestrator_created_with_explicit_id_and_parent_link_shape_g() -> None:
    def child(context):
        return context.get_input()

    def orch(context):
        return (yield context.call_sub_orchestrator("child", {"x": 1}, "child-1"))

    sim = Sim.start(orch, child=child)
    sim.step()
    assert sim.shape()[2] == (7, 0, "child")
    created = json.loads(sim.history[2])
    assert created["InstanceId"] == "child-1"
    assert created["Input"] == '{"x": 1}'
    kid = sim.children[0]
    assert kid.instance_id == "child-1"
    assert kid.parent == {"instance_id": "inst-1", "execution_id": "exec-1", "task_id": 0, "name": "orch"}
    start = next(m for m in sim.queue if m.instance_id == "child-1")
    assert start.payload["ParentInstance"]["OrchestrationInstance"]["InstanceId"] == "inst-1"
    sim.push(
        NewMessage(
            instance_id="inst-1",
            kind=MessageKind.EVENT,
            execution_id="exec-1",
            payload=h.sub_orchestration_completed(sim.now, 0, '{"x": 1}'),
        )
    )
    sim.step()
    assert json.loads(sim.instance.output or "null") == {"x": 1}


def test_retry_history_matches_sdk_retry_interceptor_shape() -> None:
    def orch(context):
        options = df.RetryOptions(first_retry_interval_in_milliseconds=1000, max_number_of_attempts=2)
        try:
            yield context.call_activity_with_retry("hello", options, "Tokyo")
        except Exception as exc:
            return f"failed: {str(exc).splitlines()[0]}"
        return "ok"

    sim = Sim.start(orch)
    sim.step()
    sim.fail(0, "first")
    sim.step()
    assert sim.shape()[-3:] == [(6, -1, 0), (10, 1, None), OC]
    assert json.loads(sim.history[-2])["FireAt"] == h.dtfx_time(sim.now + timedelta(seconds=1))
    sim.step(1)
    assert sim.shape()[-4:] == [OS, (11, -1, 1), (4, 2, "hello"), OC]
    sim.fail(2, "second")
    sim.step()
    # After the last attempt DTFx still waits on a "dummy" timer due now.
    assert sim.shape()[-3:] == [(6, -1, 2), (10, 3, None), OC]
    assert json.loads(sim.history[-2])["FireAt"] == h.dtfx_time(sim.now)
    sim.step()
    assert sim.instance.status is RuntimeStatus.COMPLETED
    assert json.loads(sim.instance.output or "null") == "failed: second "


def test_two_retries_failing_out_of_order_keep_sdk_ids() -> None:
    """The SDK test 'two retriable events completing out of order' expects ids 2..5 as here."""

    def orch(context):
        options = df.RetryOptions(first_retry_interval_in_milliseconds=10, max_number_of_attempts=2)
        tasks = [context.call_activity_with_retry("hello", options, c) for c in ("Tokyo", "Seattle")]
        return (yield context.task_all(tasks))

    sim = Sim.start(orch)
    sim.step()
    sim.fail(1, "seattle down")
    sim.fail(0, "tokyo down")
    sim.step()
    sim.step()
    assert [s for s in sim.shape() if s[0] == 10] == [(10, 2, None), (10, 3, None)]
    sim.step(1)
    sim.step(1)
    assert [s for s in sim.shape() if s[0] == 4][-2:] == [(4, 4, "hello"), (4, 5, "hello")]
    sim.complete(4, "Hello Seattle")
    sim.complete(5, "Hello Tokyo")
    sim.step()
    assert json.loads(sim.instance.output or "null") == ["Hello Tokyo", "Hello Seattle"]


def test_custom_status_is_kept_from_each_episode() -> None:
    def orch(context):
        context.set_custom_status({"phase": 1})
        yield context.call_activity("hello", 1)
        context.set_custom_status({"phase": 2})
        return "x"

    sim = Sim.start(orch)
    sim.step()
    assert json.loads(sim.instance.custom_status or "null") == {"phase": 1}
    sim.complete(0, None)
    sim.step()
    assert json.loads(sim.instance.custom_status or "null") == {"phase": 2}


@pytest.mark.parametrize("episode_mode", ["replay"], indirect=True)  # a session does not replay: it cannot see this
def test_non_deterministic_orchestrator_fails_clearly() -> None:
    calls = {"n": 0}

    def orch(context):
        calls["n"] += 1
        if calls["n"] == 1:
            yield context.call_activity("hello", 1)
            yield context.call_activity("hello", 2)
        return "changed"

    sim = Sim.start(orch)
    sim.step()
    sim.complete(0, None)
    sim.step()
    assert sim.instance.status is RuntimeStatus.FAILED
    assert "Non-deterministic" in json.loads(sim.instance.output or "null")


def test_terminate_message_records_termination_and_drops_work() -> None:
    def orch(context):
        yield context.wait_for_external_event("never")

    sim = Sim.start(orch)
    sim.step()
    sim.push(NewMessage(instance_id="inst-1", kind=MessageKind.TERMINATE, payload="enough"))
    commit = sim.step()
    assert commit.drop_pending
    assert sim.instance.status is RuntimeStatus.TERMINATED
    assert sim.shape()[-2][0] == 3


def test_results_for_an_older_execution_are_dropped() -> None:
    def orch(context):
        return (yield context.wait_for_external_event("go"))

    sim = Sim.start(orch)
    sim.step()
    sim.push(
        NewMessage(
            instance_id="inst-1",
            kind=MessageKind.EVENT,
            execution_id=uuid.uuid4().hex,
            payload=h.task_completed(sim.now, 0, '"stale"'),
        )
    )
    before = list(sim.history)
    sim.step()
    assert sim.history == before
    assert sim.queue == []


def test_entity_calls_fail_the_orchestration_with_a_clear_error() -> None:
    def orch(context):
        yield context.call_entity(df.EntityId("counter", "k"), "add", 1)

    sim = Sim.start(orch)
    sim.step()
    assert sim.instance.status is RuntimeStatus.FAILED
    assert "entities are not supported" in json.loads(sim.instance.output or "null")


def test_long_timer_is_split_into_host_sized_chunks() -> None:
    def orch(context):
        yield context.create_timer(context.current_utc_datetime + timedelta(days=7))
        return "late"

    sim = Sim.start(orch)
    sim.step()
    first = json.loads(sim.history[2])
    assert first["EventType"] == 10
    assert h.parse_time(first["FireAt"]) == sim.now + timedelta(days=3)
    sim.step(3 * 86400)
    sim.step(3 * 86400)
    assert sim.instance.status is RuntimeStatus.RUNNING
    sim.step(86400)
    assert json.loads(sim.instance.output or "null") == "late"


def test_sub_orchestrator_retry_recreates_the_child_with_the_same_id() -> None:
    def child(context):
        return "unused"

    def orch(context):
        options = df.RetryOptions(first_retry_interval_in_milliseconds=500, max_number_of_attempts=3)
        return (yield context.call_sub_orchestrator_with_retry("child", options, "in", "kid"))

    sim = Sim.start(orch, child=child)
    sim.step()
    assert sim.shape()[2] == (7, 0, "child")
    sim.push(
        NewMessage(
            instance_id="inst-1",
            kind=MessageKind.EVENT,
            execution_id="exec-1",
            payload=h.sub_orchestration_failed(sim.now, 0, "child broke", None),
        )
    )
    sim.step()
    assert sim.shape()[-3:] == [(9, -1, 0), (10, 1, None), OC]
    sim.step(1)
    assert sim.shape()[-2] == (7, 2, "child")
    assert [c.instance_id for c in sim.children] == ["kid", "kid"]
    sim.push(
        NewMessage(
            instance_id="inst-1",
            kind=MessageKind.EVENT,
            execution_id="exec-1",
            payload=h.sub_orchestration_completed(sim.now, 2, '"second try"'),
        )
    )
    sim.step()
    assert json.loads(sim.instance.output or "null") == "second try"


def test_suspend_in_the_same_batch_as_a_result_keeps_the_instance_suspended() -> None:
    def orch(context):
        yield context.call_activity("hello", 1)
        yield context.call_activity("hello", 2)
        return "done"

    sim = Sim.start(orch)
    sim.step()
    sim.complete(0, "one")
    sim.push(NewMessage(instance_id="inst-1", kind=MessageKind.SUSPEND, payload="hold"))
    sim.step()
    assert sim.instance.status is RuntimeStatus.SUSPENDED
    assert sim.shape()[-2] == (4, 1, "hello")
    sim.complete(1, "two")
    sim.step()
    assert sim.instance.status is RuntimeStatus.SUSPENDED
    sim.push(NewMessage(instance_id="inst-1", kind=MessageKind.RESUME, payload="go"))
    sim.step()
    assert str(sim.instance.status) == "Running"
    sim.step()  # the result held back while suspended is delivered by the next episode
    assert json.loads(sim.instance.output or "null") == "done"


@pytest.mark.parametrize(
    "event",
    [
        {"EventType": 5, "EventId": -1, "Result": '{"content": "a \\"quoted\\" answer", "n": 1}'},
        {"EventType": 12, "IsPlayed": False, "Timestamp": "2026-01-01T00:00:00Z"},  # IsPlayed already a key
        {},
    ],
)
def test_an_event_is_played_the_same_whether_encoded_again_or_derived(event: dict[str, Any]) -> None:
    assert episode.as_played(episode._unplayed(event)) == episode._played(event)
