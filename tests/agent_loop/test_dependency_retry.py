"""A dependency that is away (the gateway, a tool, the memory service): the run waits on durable timers.

Driven in-process (see fake_durable): each activity answers from a script, and the run's timers
fire at once while the orchestration clock moves to them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from agent_loop.dependency_retry import backoff_seconds
from agent_loop.orchestration import AgentRun
from agent_loop.run_request import RunOptions
from tests.agent_loop.fake_durable import T0, Driver, FakeContext
from tests.agent_loop.test_loop_decisions import Script, _call, _run, _tasks, _text

AWAY = {"away": "could not reach the gateway (ClientConnectorError)"}
REFUSED = "could not reach the service (ClientConnectorError)"
TOOL_AWAY = {"ok": False, "status": None, "error": REFUSED, "away": REFUSED}
TOOL_AWAY_BEFORE = {**TOOL_AWAY, "away": True}
"""The same, as results kept by earlier versions said it."""
LIST = _call("listNotes", "{}")


def _answers(*items: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The given answers, then the last one for ever."""
    yield from items
    while True:
        yield items[-1]


def _retrying(context: FakeContext) -> list[dict[str, Any]]:
    return [entry for status in context.statuses for entry in status.get("retrying", [])]


def test_backoff_doubles_from_the_first_wait_up_to_the_cap() -> None:
    options = RunOptions()
    assert [backoff_seconds(options, n) for n in range(8)] == [5, 10, 20, 40, 80, 160, 300, 300]
    assert backoff_seconds(RunOptions(retry_first_seconds=0.5, retry_max_seconds=1), 3) == 1


def test_a_model_step_waits_for_the_gateway_and_the_run_goes_on() -> None:
    script = Script(create_tasks=[_tasks("a"), _tasks(met=True)])
    steps = _answers(AWAY, AWAY, _text("done"))
    script_model = script.model
    script.model = lambda payload: next(steps) if payload["step"] == "execute_task" else script_model(payload)  # type: ignore[method-assign]
    report, context = _run(script, {})
    assert report["outcome"] == "completed"
    shown = _retrying(context)
    assert [(e["kind"], e["name"], e["retry"]) for e in shown] == [("model", "execute_task", n) for n in (1, 2)]
    waits = [datetime.fromisoformat(e["next_at"]) - datetime.fromisoformat(e["since"]) for e in shown]
    assert [w.total_seconds() for w in waits][0] >= 5 and waits[1] > waits[0]
    assert any("model execute_task: was away; back after 2 retries" in event for event in report["events"])
    assert context.current_utc_datetime - T0 >= waits[1]


def test_a_gateway_away_past_the_retry_limit_fails_the_run_with_the_reason() -> None:
    script = Script(create_tasks=[_tasks("a")])
    script_model = script.model
    script.model = lambda payload: AWAY if payload["step"] == "execute_task" else script_model(payload)  # type: ignore[method-assign]
    options = {"retry_first_seconds": 1, "retry_max_seconds": 2, "retry_limit_seconds": 6}
    report, _ = _run(script, {"options": options})
    assert report["outcome"] == "failed"
    assert "the gateway stayed away: could not reach the gateway" in report["stop_reason"]


def test_a_tool_call_is_made_again_with_the_same_call_once_the_tool_is_back() -> None:
    script = Script(create_tasks=[_tasks("a"), _tasks(met=True)], execute_task=[LIST, _text("listed")])
    answers = _answers(TOOL_AWAY, {"ok": True, "status": 200, "body": "[]", "json": []})
    tool_calls: list[dict[str, Any]] = []

    def tool(payload: dict[str, Any]) -> dict[str, Any]:
        tool_calls.append(payload)
        return next(answers)

    script.tool = tool  # type: ignore[method-assign]
    report, context = _run(script, {})
    assert report["outcome"] == "completed"
    assert [call["call_id"] for call in tool_calls] == ["c1-0-0", "c1-0-0"]  # one idempotency key
    assert [e["kind"] for e in _retrying(context)] == ["tool"]
    assert report["tasks"][0]["tool_calls"] == [{"function": "listNotes", "ok": True, "status": 200}]


@pytest.mark.parametrize("away", [TOOL_AWAY, TOOL_AWAY_BEFORE], ids=["now", "kept-before"])
def test_a_tool_that_is_away_shows_why_while_the_run_waits_for_it(away: dict[str, Any]) -> None:
    script = Script(create_tasks=[_tasks("a"), _tasks(met=True)], execute_task=[LIST, _text("listed")])
    answers = _answers(away, away, {"ok": True, "status": 200, "body": "[]", "json": []})
    script.tool = lambda payload: next(answers)  # type: ignore[method-assign]
    report, context = _run(script, {})
    assert report["outcome"] == "completed"
    assert [(e["kind"], e["error"]) for e in _retrying(context)] == [("tool", REFUSED)] * 2


def test_a_tool_that_stays_away_fails_its_task_and_the_outcome_says_so() -> None:
    script = Script(create_tasks=[_tasks("a"), _tasks(met=True)], execute_task=[LIST, _text("could not list")])
    script.tool = lambda payload: TOOL_AWAY  # type: ignore[method-assign]
    options = {"retry_first_seconds": 1, "retry_max_seconds": 2, "retry_limit_seconds": 6}
    report, context = _run(script, {"options": options})
    assert report["outcome"] == "completed_with_failures"
    failures = report["tasks"][0]["failures"]
    assert len(failures) == 1 and failures[0].startswith("listNotes: could not reach the service")
    assert "still away after waiting" in json.dumps(context.statuses[-1]["tool_calls"])


def test_a_memory_write_waits_for_the_notes_service_and_is_never_dropped() -> None:
    script = Script(create_tasks=[_tasks("a"), _tasks(met=True)])
    stores = _answers({"stored": False, "away": "the memory tool 'notes' did not serve its spec"}, {"stored": True})
    activities = script.activities()
    activities["store_memory"] = lambda payload: next(stores)
    context = FakeContext({"objective": "write a note"})
    report = Driver(activities=activities).run(AgentRun(context, context.get_input()).run(), context)
    assert report["outcome"] == "completed" and "failures" not in report["tasks"][0]
    assert [e["name"] for e in _retrying(context)] == ["store_memory"]


def test_a_memory_write_the_service_refuses_is_a_failure_of_its_task() -> None:
    script = Script(create_tasks=[_tasks("a"), _tasks(met=True)])
    activities = script.activities()
    activities["store_memory"] = lambda payload: {"stored": False, "error": "the service answered HTTP 422"}
    context = FakeContext({"objective": "write a note"})
    report = Driver(activities=activities).run(AgentRun(context, context.get_input()).run(), context)
    assert report["outcome"] == "completed_with_failures"
    assert report["tasks"][0]["failures"] == ["its memory note was not stored: the service answered HTTP 422"]


def test_cancel_ends_a_wait_for_a_dependency() -> None:
    script = Script(create_tasks=[_tasks("a")])
    script_model = script.model
    script.model = lambda payload: AWAY if payload["step"] == "execute_task" else script_model(payload)  # type: ignore[method-assign]
    report, _ = _run(script, {}, cancel_after_activities=4)
    assert report["outcome"] == "cancelled"
