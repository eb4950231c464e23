"""The agent loop's decisions, driven in-process through the orchestrator's own generator.

No host, no services: ``fake_durable`` resolves each task the orchestrator yields by calling a
scripted model and scripted tools, so budgets, approvals, cancel, the prioritizer's rejected
answers, continue_as_new carry-over and the model's mistakes are each checked in milliseconds.
The same decisions run end to end through the mesh in tests/scenarios.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from agent_loop.orchestration import AgentRun, approval_event
from openapi_engine import Catalog, ConversionOptions, ToolInfo, load_and_convert
from tests.agent_loop.fake_durable import TIMEOUT, Driver, FakeContext
from tests.support.servers import REPO_ROOT

NOTES_SPEC = REPO_ROOT / "specs" / "notes.openapi.json"
Answer = dict[str, Any]


def _catalog() -> dict[str, Any]:
    converted = load_and_convert(str(NOTES_SPEC), ConversionOptions(tool="notes", approval="safe-methods"))
    info = ToolInfo(name="notes", base_url="http://notes.test", spec=str(NOTES_SPEC))
    return Catalog(tools={"notes": info}, functions=list(converted.functions), problems=[]).to_dict()


CATALOG = _catalog()


def _text(content: str, tokens: int = 10) -> Answer:
    return {"content": content, "tool_calls": [], "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def _tasks(*tasks: str, met: bool = False) -> Answer:
    return _text(json.dumps({"tasks": list(tasks), "objective_met": met}))


def _call(name: str, arguments: str) -> Answer:
    return {"content": "", "tool_calls": [{"id": "t1", "name": name, "arguments": arguments}], "usage": {}}


class Script:
    """The model's answers per step, in order; a step that runs out repeats its last answer."""

    def __init__(self, **steps: list[Answer]) -> None:
        self.steps = {name: list(answers) for name, answers in steps.items()}
        self.asked: list[str] = []
        self.tool_calls: list[dict[str, Any]] = []

    def model(self, payload: dict[str, Any]) -> Answer:
        step = payload["step"]
        self.asked.append(step)
        answers = self.steps.get(step) or [_text("done")]
        return answers.pop(0) if len(answers) > 1 else answers[0]

    def tool(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.tool_calls.append(payload)
        return {"ok": True, "status": 201, "body": '{"id": 1}', "json": {"id": 1}}

    def activities(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {
            "load_catalog": lambda _: CATALOG,
            "llm_step": self.model,
            "recall_memory": lambda _: [],
            "store_memory": lambda _: {"stored": True},
            "invoke_tool": self.tool,
            "publish_events": lambda _: {},
            "record_run": lambda _: {},
        }


def _run(script: Script, request: dict[str, Any], **driver: Any) -> tuple[dict[str, Any], FakeContext]:
    context = FakeContext({"objective": "write a note", **request})
    report = Driver(activities=script.activities(), **driver).run(AgentRun(context, context.get_input()).run(), context)
    return report, context


def test_the_iteration_budget_stops_the_run_with_its_name() -> None:
    script = Script(create_tasks=[_tasks("a", "b"), _tasks("c")], prioritize=[_text('{"order": [1, 0]}')])
    report, _ = _run(script, {"budgets": {"max_iterations": 2}})
    assert (report["outcome"], report["stop_reason"]) == ("budget_exhausted", "max_iterations")
    assert len(report["tasks"]) == 2 and report["pending"]


def test_the_token_budget_ends_the_run_without_a_summary_call() -> None:
    script = Script(create_tasks=[_tasks("a", "b")], execute_task=[_text("done", tokens=5000)])
    report, _ = _run(script, {"budgets": {"max_tokens": 1000}})
    assert report["stop_reason"] == "max_tokens"
    assert "summarize" not in script.asked


@pytest.mark.parametrize(
    ("decision", "ran", "reply"),
    [
        ({"approve": True}, True, '{"id": 1}'),
        ({"approve": False, "comment": "not today"}, False, "error: a person denied the call to createNote: not today"),
        (
            TIMEOUT,
            False,
            "error: no one approved the call to createNote (the run's deadline (86400 seconds from its start, "
            "2026-01-02T00:00:00+00:00) ended the wait); it was not made",
        ),
    ],
)
def test_a_call_that_needs_approval_waits_for_the_decision(decision: Any, ran: bool, reply: str) -> None:
    create = _call("createNote", json.dumps({"title": "t", "content": "b"}))
    script = Script(create_tasks=[_tasks("a"), _tasks(met=True)], execute_task=[create, _text("ok")])
    asked: list[str] = []

    def events(name: str, ctx: FakeContext) -> Any:
        asked.append(name)
        return decision

    report, context = _run(script, {}, events=events)
    assert asked == [approval_event("c1-0-0")]
    assert bool(script.tool_calls) is ran
    waiting = [s for s in context.statuses if s["approvals"]]
    assert waiting and waiting[0]["approvals"][0]["function"] == "createNote"
    assert report["tasks"][0]["tool_calls"][0]["ok"] is ran
    assert _last_reply(context) == reply


def _last_reply(context: FakeContext) -> str:
    """What the model was told about the task's last tool call (the progress view records it)."""
    return str(context.statuses[-1]["tool_calls"][-1]["summary"])


def test_cancel_stops_the_run_and_keeps_the_interrupted_task() -> None:
    script = Script(create_tasks=[_tasks("a", "b")], prioritize=[_text('{"order": [0, 1]}')])
    report, _ = _run(script, {}, cancel_after_activities=3)
    assert (report["outcome"], report["stop_reason"]) == ("cancelled", "cancelled")
    assert report["pending"][0]["task"] == "a"
    assert "summarize" not in script.asked


def test_a_prioritizer_answer_that_is_not_a_reordering_keeps_the_order() -> None:
    script = Script(
        create_tasks=[_tasks("a", "b", "c"), _tasks(met=True)],
        prioritize=[_text('{"order": [0, 0, 5]}')],
    )
    report, _ = _run(script, {"budgets": {"max_iterations": 2}})
    assert [t["task"] for t in report["tasks"]] == ["a", "b"]
    assert any("was not a reordering of the pending tasks; order kept" in e for e in report["events"])


def test_continue_as_new_carries_the_state_into_the_next_execution() -> None:
    script = Script(create_tasks=[_tasks("a", "b"), _tasks()], prioritize=[_text('{"order": [0]}')])
    first, context = _run(script, {"options": {"continue_every": 1}})
    assert first is None and context.continued_with is not None
    carried = context.continued_with["state"]
    assert [t["task"] for t in carried["done"]] == ["a"]
    second = FakeContext(context.continued_with)
    run = AgentRun(second, second.get_input())
    assert run.state.execution == 1 and run.state.usage.llm_calls == carried["usage"]["llm_calls"]
    report = Driver(activities=script.activities()).run(run.run(), second)
    assert report["executions"] == 2 and [t["task"] for t in report["tasks"]] == ["a", "b"]


@pytest.mark.parametrize(
    ("call", "reply"),
    [
        (_call("noSuchFunction", "{}"), "error: there is no function named 'noSuchFunction'"),
        (_call("createNote", "not json"), "error: the arguments were not a JSON object"),
        (_call("createNote", json.dumps({"title": 5})), "error: invalid arguments"),
    ],
)
def test_model_mistakes_go_back_to_the_model_as_tool_results(call: Answer, reply: str) -> None:
    script = Script(create_tasks=[_tasks("a"), _tasks(met=True)], execute_task=[call, _text("fixed")])
    report, context = _run(script, {"approval": {"notes": "never"}})
    assert report["stop_reason"] == "objective_met" and not script.tool_calls
    assert script.asked.count("execute_task") == 2  # the model saw the mistake and answered again
    assert report["tasks"][0]["tool_calls"][0]["ok"] is False
    assert _last_reply(context).startswith(reply)
    assert report["tasks"][0]["result"] == "fixed"


def test_a_failed_look_for_kept_events_still_waits_for_the_event() -> None:
    catalog = json.loads(json.dumps(CATALOG))
    for function in catalog["functions"]:
        if function["name"] == "createNote":
            function["wait"] = {"event": "note.reviewed", "match": {"noteId": "response.id"}, "timeout_seconds": 60}
    script = Script(
        execute_task=[_call("createNote", json.dumps({"title": "t", "content": "b"})), _text("reviewed")],
        create_tasks=[_tasks(met=True)],
    )

    def unreachable(_: dict[str, Any]) -> Any:
        raise RuntimeError("the instance query timed out")

    reviewed = {"event_id": "e1", "name": "note.reviewed", "data": {"noteId": 1}}
    asked: list[str] = []

    def events(name: str, ctx: FakeContext) -> Any:
        asked.append(name)
        return reviewed

    activities = {**script.activities(), "load_catalog": lambda _: catalog, "find_held_event": unreachable}
    context = FakeContext({"objective": "write a note", "initial_tasks": ["Write it"], "approval": {"notes": "never"}})
    report = Driver(activities=activities, events=events).run(AgentRun(context, context.get_input()).run(), context)
    assert asked == ["outside-c1-0-0"]  # the wait still happened, and the event answered it
    task = report["tasks"][0]
    assert task["result"] == "reviewed" and task["tool_calls"][0]["ok"] is True, report
    assert any("could not look for kept note.reviewed events" in e for e in report["events"]), report["events"]
