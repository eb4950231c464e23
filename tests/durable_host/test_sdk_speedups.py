"""The SDK speedups change how often work is repeated, never what the SDK returns."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions._durable_functions as codec
import pytest
from azure.durable_functions.models.TaskOrchestrationExecutor import TaskOrchestrationExecutor

from durable_host import episode, sdk_speedups
from durable_host import history as h
from durable_host.invoke import run_orchestrator
from durable_host.store import InstanceRow, MessageKind, MessageRow, RuntimeStatus
from tests.durable_host.python_child import run_python

STRICT = "AZURE_FUNCTIONS_DURABLE_STRICT_TYPING"

ORCHESTRATOR_SOURCE = """
from datetime import timedelta

def orch(context):
    values = []
    for n in range(3):
        values.append((yield context.call_activity("double", n)))
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=5))
    both = yield context.task_all([context.call_activity("double", 10), context.call_activity("double", 11)])
    context.set_custom_status({"at": context.current_utc_datetime.isoformat(), "n": len(values)})
    return {"values": values + both, "now": context.current_utc_datetime.isoformat()}
"""

REPLAY_SCRIPT = """
import json, sys
import azure.durable_functions as df
from durable_host.invoke import run_orchestrator
namespace = {}
exec(sys.argv[1], namespace)
handle = df.Orchestrator.create(namespace["orch"])
from dateutil.parser import parse
assert sys.modules["azure.durable_functions.models.history.HistoryEvent"].dt_parse is parse
replies = [run_orchestrator(handle, body) for body in json.loads(sys.stdin.read())]
print(json.dumps([[r.text, r.error] for r in replies]))
"""


class _Known:
    def is_orchestrator(self, name: str) -> bool:
        return False

    def is_active(self, instance_id: str) -> bool:
        return False


def _episode_bodies() -> tuple[list[str], list[list[str | None]]]:
    """Drive the orchestrator to completion in memory; the body and reply of every episode."""
    namespace: dict[str, Any] = {}
    exec(ORCHESTRATOR_SOURCE, namespace)
    handle = df.Orchestrator.create(namespace["orch"])
    now = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    row = InstanceRow.new(
        instance_id="i", name="orch", input_json=None, created_time=h.dtfx_time(now), execution_id="e"
    )
    start = episode.start_message(row, now)
    queue = [MessageRow(id=1, instance_id="i", execution_id="e", kind=start.kind, payload=start.payload, visible_at=0)]
    history: list[str] = []
    bodies: list[str] = []
    replies: list[list[str | None]] = []
    while row.status is not RuntimeStatus.COMPLETED:
        assert len(bodies) < 20, "the orchestration did not finish"
        now += timedelta(seconds=1, microseconds=1)
        plan = episode.prepare(row, history, queue, now)
        assert plan.body is not None
        reply = run_orchestrator(handle, plan.body)
        bodies.append(plan.body)
        replies.append([reply.text, reply.error])
        commit = episode.finish(plan, reply, _Known())
        history.extend(commit.history_append)
        row = commit.instance
        queue = [
            MessageRow(
                id=len(bodies) * 100 + n,
                instance_id="i",
                execution_id="e",
                kind=MessageKind.EVENT,
                payload=h.task_completed(now, activity.task_id, json.dumps(2 * json.loads(activity.input or "0"))),
                visible_at=0,
            )
            for n, activity in enumerate(commit.new_activities)
        ]
        queue += [
            MessageRow(
                id=len(bodies) * 100 + 99,
                instance_id="i",
                execution_id="e",
                kind=m.kind,
                payload=m.payload,
                visible_at=0,
            )
            for m in commit.new_messages
        ]
    return bodies, replies


def test_install_finds_every_target_of_the_pinned_sdk_and_is_idempotent() -> None:
    first = sdk_speedups.install()
    assert first == sdk_speedups.Installed(timestamps=True, namedtuple=True, strict_mode=True, codec_json=True)
    assert sdk_speedups.install() == first


def test_replies_are_identical_with_and_without_speedups() -> None:
    sdk_speedups.install()
    bodies, replies = _episode_bodies()
    assert len(bodies) >= 5
    final = json.loads(replies[-1][0] or "{}")
    assert final["isDone"] is True and final["output"]["values"] == [0, 2, 4, 20, 22]
    stdout = run_python(REPLAY_SCRIPT, json.dumps(bodies), ORCHESTRATOR_SOURCE)
    assert json.loads(stdout) == replies


def test_executor_namedtuple_is_built_once_with_the_sdks_module_name() -> None:
    sdk_speedups.install()
    first, second = TaskOrchestrationExecutor(), TaskOrchestrationExecutor()
    payload_one = next(iter(first.event_to_SetTaskValuePayload.values()))
    payload_two = next(iter(second.event_to_SetTaskValuePayload.values()))
    assert type(payload_one) is type(payload_two)
    assert type(payload_one).__module__ == TaskOrchestrationExecutor.__module__
    assert tuple(payload_one._asdict()) == ("is_success", "task_id_key")


def test_executor_namedtuple_builds_fresh_classes_for_other_arguments() -> None:
    sdk_speedups.install()
    module = sys.modules[TaskOrchestrationExecutor.__module__]
    listed = module.namedtuple("Listed", ["a", "b"])
    assert listed is not module.namedtuple("Listed", ["a", "b"])
    renamed = module.namedtuple("Renamed", ("a", "a"), rename=True)
    assert renamed._fields == ("a", "_1")
    assert listed.__module__ == renamed.__module__ == module.__name__


@pytest.mark.parametrize("value", [None, "", "1", "true", " TRUE ", "Yes", "0", "false", "no", "truthy", "\u00a0yes"])
def test_strict_mode_reader_follows_the_environment_as_it_changes(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    sdk_speedups.install()
    for current in (value, "1", value, None, value):
        if current is None:
            monkeypatch.delenv(STRICT, raising=False)
        else:
            monkeypatch.setenv(STRICT, current)
        expected = os.environ.get(STRICT, "").strip().lower() in {"1", "true", "yes"}
        assert codec._is_strict_mode() is expected, current


def test_strict_mode_reader_defers_to_the_original_when_environ_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    sdk_speedups.install()
    monkeypatch.setattr(os, "environ", {STRICT: "yes"})
    assert codec._is_strict_mode() is True
    monkeypatch.setattr(os, "environ", {})
    assert codec._is_strict_mode() is False


def test_strict_mode_changes_what_df_loads_does_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    sdk_speedups.install()
    envelope = json.dumps({"__class__": "Missing", "__module__": "no_such_module", "__data__": 1})
    monkeypatch.setenv(STRICT, "1")
    with pytest.raises(TypeError, match="strict mode requires expected_type"):
        codec.df_loads(envelope)
    monkeypatch.delenv(STRICT)
    with pytest.raises(ValueError, match="is not loaded in sys.modules"):
        codec.df_loads(envelope)


class Point:
    """A custom value the SDK's codec wraps in its class/module envelope."""

    def __init__(self, x: int) -> None:
        self.x = x

    @staticmethod
    def to_json(obj: Point) -> dict[str, int]:
        return {"x": obj.x}

    @classmethod
    def from_json(cls, data: dict[str, int]) -> Point:
        return cls(data["x"])


PAYLOADS: list[Any] = [
    None,
    0,
    1.5,
    "text \u00e9 \ud83d\ude00",
    [1, [2, {"a": None}]],
    {"nested": {"k": [True, False]}},
]


@pytest.mark.parametrize("value", PAYLOADS)
def test_codec_reusing_json_gives_json_results_for_plain_values(value: Any) -> None:
    sdk_speedups.install()
    assert isinstance(vars(codec)["json"], sdk_speedups.ReusingJson)
    text = codec.df_dumps(value)
    assert text == json.dumps(value)
    assert codec.df_loads(text) == json.loads(text)
    assert codec.df_loads(text, expected_type=type(value)) == json.loads(text)


def test_codec_reusing_json_round_trips_custom_objects_like_json() -> None:
    sdk_speedups.install()
    value = {"points": [Point(1), Point(2)]}
    text = codec.df_dumps(value)
    assert text == json.dumps(value, default=codec._serialize_custom_object)
    restored = codec.df_loads(text)
    assert [p.x for p in restored["points"]] == [1, 2]
    assert all(type(p) is Point for p in restored["points"])


def test_codec_reusing_json_raises_json_errors_unchanged() -> None:
    reusing = sdk_speedups.ReusingJson()
    for bad in ("\ufeff{}", "{", '{"a": }', b"\xff", 17):
        try:
            json.loads(bad, object_hook=dict)  # type: ignore[arg-type]
        except Exception as exc:
            expected: tuple[str, str] = (type(exc).__name__, str(exc))
        with pytest.raises(Exception) as raised:
            reusing.loads(bad, object_hook=dict)
        assert (type(raised.value).__name__, str(raised.value)) == expected
    with pytest.raises(TypeError, match="not JSON serializable"):
        reusing.dumps({1, 2}, default=json.JSONEncoder().default)


def test_codec_reusing_json_passes_other_options_and_attributes_to_json() -> None:
    reusing = sdk_speedups.ReusingJson()
    assert reusing.dumps({"b": 1, "a": 2}, sort_keys=True, default=str) == '{"a": 2, "b": 1}'
    assert reusing.loads(b'{"a": 1}', object_hook=dict) == {"a": 1}
    assert reusing.loads("1.5", parse_float=str) == "1.5"
    assert reusing.JSONDecodeError is json.JSONDecodeError
