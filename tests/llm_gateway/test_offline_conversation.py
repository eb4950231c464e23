"""The offline model on people's messages, and on tasks that refer to earlier results."""

from __future__ import annotations

import json

from llm_gateway.providers.offline.conversation import decide_messages
from llm_gateway.providers.offline.model import answer
from llm_gateway.providers.offline.tools import ToolSpec, fill_arguments


def _messages(*texts: str, mode: str = "objective") -> dict[str, object]:
    return {
        "mode": mode,
        "done_tasks": ["Calculate 2 + 3"],
        "pending_tasks": ["Write a note"],
        "current_task": None,
        "messages": [{"id": f"m{i}", "author": "Ann", "text": t} for i, t in enumerate(texts)],
    }


def test_messages_mean_stop_plan_answer_or_task() -> None:
    decided = decide_messages(
        _messages("Stop, that's enough", "Instead, email the budget to Dana", "How far are you?", "Also file an issue")
    )
    assert [d["meaning"] for d in decided["decisions"]] == ["stop", "plan", "answer", "task"]
    assert decided["decisions"][1]["tasks"] == ["Email the budget to Dana"]
    assert decided["decisions"][3]["tasks"] == ["Also file an issue"]
    assert "1 task(s) done" in decided["reply"] and "Stopping, as Ann asked" in decided["reply"]


def test_in_a_chat_a_question_is_a_turn() -> None:
    decided = decide_messages(_messages("What is 2 + 3?", mode="chat"))
    assert decided["decisions"] == [{"id": "m0", "meaning": "task", "tasks": ["What is 2 + 3?"]}]


def test_the_messages_step_is_answered_as_json_through_the_model() -> None:
    request = {
        "messages": [
            {"role": "system", "content": "[toolmesh:messages]\nDecide."},
            {"role": "user", "content": json.dumps(_messages("stop"))},
        ]
    }
    content = answer(request).content
    assert content is not None and json.loads(content)["decisions"][0]["meaning"] == "stop"


NOTE = ToolSpec(
    name="createNote",
    description="Create a note",
    parameters={
        "type": "object",
        "properties": {"title": {"type": "string"}, "content": {"type": "string", "default": ""}},
        "required": ["title"],
    },
)


def test_an_optional_body_holds_earlier_results_when_the_task_refers_to_them() -> None:
    earlier = ['Calculate 12 * 49.90: evaluateExpression returned {"value": 598.8}']
    filled = fill_arguments(NOTE, "Write a note with the licence budget result", earlier)
    assert "598.8" in filled["content"]


def test_an_optional_body_stays_empty_when_the_task_does_not_refer_to_earlier_work() -> None:
    earlier = ['Calculate 12 * 49.90: evaluateExpression returned {"value": 598.8}']
    assert "content" not in fill_arguments(NOTE, "Write a note titled Groceries", earlier)
    assert "content" not in fill_arguments(NOTE, "Write a note with the result", [])
