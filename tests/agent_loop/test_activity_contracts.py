"""The activities' inputs and results are checked where they cross the orchestrator/activity boundary."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from agent_loop import activities
from agent_loop.activity_contracts import (
    REPLAYED_INPUT,
    LlmStepInput,
    MemoryStored,
    StepAnswer,
    StoreMemoryInput,
    Timing,
    ToolCallOutcome,
)
from openapi_engine import ToolResult

STEP: dict[str, Any] = {
    "run_id": "run-1",
    "step": "execute_task",
    "model": "offline",
    "messages": [{"role": "user", "content": "hi"}],
}


def test_an_input_has_exactly_the_keys_its_caller_set() -> None:
    assert LlmStepInput.model_validate(STEP).payload() == STEP
    with_tools = LlmStepInput.model_validate({**STEP, "tools": [{"type": "function"}]}).payload()
    assert set(with_tools) == {*STEP, "tools"}


def test_an_input_with_a_key_the_activity_does_not_know_is_refused() -> None:
    with pytest.raises(ValidationError, match="objective"):
        LlmStepInput.parse({**STEP, "objective": "x"})
    with pytest.raises(ValidationError, match="task_id"):
        StoreMemoryInput.parse({"run_id": "run-1", "task": "t", "result": "r"})


def test_an_activity_refuses_the_replay_stand_in_and_a_bad_input_before_any_side_effect() -> None:
    with pytest.raises(RuntimeError, match="replay stand-in"):
        asyncio.run(activities.llm_step(REPLAYED_INPUT))
    with pytest.raises(ValidationError, match="messages"):
        asyncio.run(activities.llm_step({"run_id": "run-1", "step": "execute_task", "model": "offline"}))


def test_results_written_by_earlier_versions_still_read() -> None:
    # A model step's answer in the history of a run in flight: fewer fields, one the reader does not know.
    answer = StepAnswer.model_validate(
        {"content": "done", "tool_calls": [{"id": "t1", "name": "add"}], "usage": {"total_tokens": 3}, "extra": 1}
    )
    assert (answer.content, answer.tool_calls[0].arguments, answer.usage.total_tokens) == ("done", "{}", 3)
    assert answer.timing is None and answer.usage.cost_usd == 0.0
    stored = MemoryStored.model_validate({"stored": False, "reason": "no memory tool"})
    assert (stored.stored, stored.attempts, stored.timing) == (False, 1, None)


def test_the_model_step_answer_keeps_its_shape_in_history() -> None:
    completion = {
        "choices": [{"message": {"content": "ok", "tool_calls": []}, "finish_reason": "stop"}],
        "model": "m",
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        "cost_usd": 0.5,
    }
    answer = activities.step_answer("execute_task", completion)
    assert answer == {
        "content": "ok",
        "tool_calls": [],
        "finish_reason": "stop",
        "model": "m",
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3, "cost_usd": 0.5},
    }
    timed = StepAnswer.model_validate({**answer, "timing": {"start": "a", "end": "b"}})
    assert timed.timing == Timing(start="a", end="b")


def test_a_tool_call_outcome_keeps_the_keys_the_activity_set_in_the_engine_order() -> None:
    result = ToolResult(ok=True, status=200, content_type="application/json", body="[1]")
    outcome = activities.call_outcome(result, datetime.now(UTC), json=[1], away=None)
    assert list(outcome) == [*result.to_dict(), "json", "away", "timing"]
    assert (outcome["json"], outcome["away"]) == ([1], None)
    read = ToolCallOutcome.model_validate(outcome)
    assert (read.ok, read.status, read.json_body, read.timing is not None) == (True, 200, [1], True)
    assert read.result() == outcome  # read back and written again, it is the same


def test_tool_call_outcomes_written_by_earlier_versions_still_read() -> None:
    # Before, ``away`` said only whether the service was away.
    away = ToolCallOutcome.model_validate({"ok": False, "error": "could not reach the service", "away": True})
    assert away.away == "the service was away" and away.error == "could not reach the service"
    back = ToolCallOutcome.model_validate({"ok": True, "status": 200, "body": "{}", "json": {}, "away": False})
    assert back.away is None and back.json_body == {} and back.attempts == 1
