"""The offline model chooses tools lexically and fills arguments from schemas and task text."""

from __future__ import annotations

import json
from typing import Any

from llm_gateway.providers.offline import OFFLINE_PREFIX, answer
from llm_gateway.providers.offline.tools import ToolSpec, choose_tool, fill_arguments, find_expression


def tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


TOOLS = [
    tool(
        "create_note",
        "Create a note with a title and a body.",
        {
            "title": {"type": "string"},
            "body": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "pinned": {"type": "boolean"},
        },
        ["title", "body"],
    ),
    tool(
        "search_notes",
        "Search notes by keywords.",
        {"query": {"type": "string"}, "limit": {"type": "integer", "default": 10}},
        ["query"],
    ),
    tool("calculate", "Evaluate an arithmetic expression.", {"expression": {"type": "string"}}, ["expression"]),
    tool("delete_note", "Delete a note by id.", {"note_id": {"type": "integer"}}, ["note_id"]),
    tool(
        "send_message",
        "Send a message to a channel.",
        {
            "channel": {"type": "string", "enum": ["general", "random"]},
            "text": {"type": "string"},
            "urgent": {"type": "boolean"},
            "count": {"type": "number"},
        },
        ["channel", "text", "urgent", "count"],
    ),
]


def execute(
    task: str,
    *,
    context: list[str] | None = None,
    tools: list[dict[str, Any]] | None = None,
    extra: list[dict[str, Any]] | None = None,
) -> Any:
    messages = [
        {"role": "system", "content": "[toolmesh:execute_task]\nRun the task."},
        {"role": "user", "content": json.dumps({"objective": "o", "task": task, "context": context or []})},
        *(extra or []),
    ]
    return answer({"model": "default", "messages": messages, "tools": TOOLS if tools is None else tools})


def only_call(result: Any) -> tuple[str, dict[str, Any]]:
    assert result.content is None and len(result.tool_calls) == 1
    call = result.tool_calls[0]
    return call.name, json.loads(call.arguments)


def test_write_task_creates_note_with_title_and_body_with_context() -> None:
    name, args = only_call(execute("Write a summary note about solar panels", context=["Panels convert light."]))
    assert name == "create_note"
    assert args == {
        "title": "Solar panels",
        "body": "Write a summary note about solar panels\n\nPanels convert light.",
    }


def test_quoted_title_is_used() -> None:
    _, args = only_call(execute('Create a note titled "Groceries" listing milk'))
    assert args["title"] == "Groceries"


def test_search_task_gets_keywords_query_and_skips_optional_limit() -> None:
    assert only_call(execute("Find notes about solar panels")) == ("search_notes", {"query": "solar panels"})


def test_arithmetic_goes_to_calculator_with_expression() -> None:
    assert only_call(execute("Compute (12 + 3) * 7")) == ("calculate", {"expression": "(12 + 3) * 7"})
    assert only_call(execute("What is 17 times 23?")) == ("calculate", {"expression": "17 * 23"})


def test_id_taken_from_earlier_result() -> None:
    name, args = only_call(execute("Delete the note", context=['{"id": 42, "title": "x"}']))
    assert (name, args) == ("delete_note", {"note_id": 42})


def test_enum_first_value_boolean_false_number_from_text() -> None:
    name, args = only_call(execute("Send a message saying we ship 3 boxes"))
    assert name == "send_message"
    assert args["channel"] == "general" and args["urgent"] is False and args["count"] == 3
    assert args["text"].startswith("Send a message")


def test_task_without_matching_tool_is_answered_in_text() -> None:
    result = execute("Ponder the meaning of life")
    assert not result.tool_calls and result.content.startswith(OFFLINE_PREFIX)


def test_no_tools_offered_is_answered_in_text() -> None:
    result = execute("Find notes about Rome", tools=[])
    assert not result.tool_calls and "no tool was offered" in result.content


def test_tool_result_is_summarized_in_text() -> None:
    first = execute("Find notes about solar panels")
    call = first.tool_calls[0]
    extra: list[Any] = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": '[{"id": 1, "title": "Solar"}]'},
    ]
    result = execute("Find notes about solar panels", extra=extra)
    assert not result.tool_calls
    assert result.content.startswith("[offline] Completed 'Find notes about solar panels': search_notes returned")
    assert call.id == "call_1"


def test_tool_error_is_reported_as_failure() -> None:
    extra: list[Any] = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "delete_note", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"error": {"message": "note 42 not found"}}'},
    ]
    result = execute("Delete note 42", extra=extra)
    assert result.content.startswith("[offline] Could not complete 'Delete note 42': delete_note failed")
    assert "note 42 not found" in result.content


def test_same_request_same_answer() -> None:
    assert execute("Find notes about Rome") == execute("Find notes about Rome")


def test_expression_finder() -> None:
    assert find_expression("add 2 plus 2") == "2 + 2"
    assert find_expression("no numbers here") is None
    assert find_expression("2^10") == "2**10"


def test_choose_tool_none_for_empty_list() -> None:
    assert choose_tool("Find notes", []) is None


def test_nested_required_object_is_filled() -> None:
    spec = ToolSpec(
        name="create_event",
        description="Create an event",
        parameters={
            "type": "object",
            "required": ["event"],
            "properties": {
                "event": {
                    "type": "object",
                    "required": ["title"],
                    "properties": {"title": {"type": "string"}},
                }
            },
        },
    )
    assert fill_arguments(spec, 'Create an event called "Launch"', []) == {"event": {"title": "Launch"}}


def test_summarize_and_unknown_steps_answer_text() -> None:
    summary: Any = answer(
        {
            "messages": [
                {"role": "system", "content": "[toolmesh:summarize]"},
                {
                    "role": "user",
                    "content": json.dumps(
                        {
                            "objective": "Notes",
                            "tasks": [{"task": "A", "result": "ok"}],
                            "stop_reason": "objective met",
                        }
                    ),
                },
            ]
        }
    )
    assert summary.content.startswith("[offline] Report on 'Notes': 1 task(s) done")
    assert "- A: ok" in summary.content
    other: Any = answer({"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object"}})
    assert json.loads(other.content)["offline"] is True
    assert other.model == "offline" and other.fingerprint == "toolmesh-offline" and other.usage.estimated


def with_choice(task: str, choice: Any) -> Any:
    messages = [
        {"role": "system", "content": "[toolmesh:execute_task]"},
        {"role": "user", "content": json.dumps({"objective": "o", "task": task, "context": []})},
    ]
    return answer({"messages": messages, "tools": TOOLS, "tool_choice": choice})


def test_tool_choice_is_honoured() -> None:
    assert not with_choice("Find notes about Rome", "none").tool_calls
    named = with_choice("Find notes about Rome", {"type": "function", "function": {"name": "calculate"}})
    assert [c.name for c in named.tool_calls] == ["calculate"]
    assert [c.name for c in with_choice("Ponder life", "required").tool_calls] == ["create_note"]
    assert not with_choice("Ponder life", "auto").tool_calls
