"""A whole agent run against the offline model through the gateway, as the orchestrator drives it."""

from __future__ import annotations

import json
from typing import Any

import openai

from tests.support.servers import RunningServer

NOTE_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "create_note",
            "description": "Create a note with a title and body.",
            "parameters": {
                "type": "object",
                "required": ["title", "body"],
                "properties": {"title": {"type": "string"}, "body": {"type": "string"}},
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search_notes",
            "description": "Search notes by keyword.",
            "parameters": {
                "type": "object",
                "required": ["query"],
                "properties": {"query": {"type": "string"}},
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "calculate",
            "description": "Evaluate an arithmetic expression.",
            "parameters": {
                "type": "object",
                "required": ["expression"],
                "properties": {"expression": {"type": "string"}},
            },
        },
    },
]


def step(
    client: openai.OpenAI,
    marker: str,
    data: dict[str, Any],
    *,
    extra: list[Any] | None = None,
    tools: list[Any] | None = None,
) -> Any:
    messages: list[Any] = [
        {"role": "system", "content": f"[toolmesh:{marker}]\nYou are a planner."},
        {"role": "user", "content": json.dumps(data)},
        *(extra or []),
    ]
    kwargs: dict[str, Any] = {"tools": tools} if tools else {"response_format": {"type": "json_object"}}
    result = client.chat.completions.create(
        model="offline", messages=messages, extra_headers={"X-Toolmesh-Run-Id": "offline-run"}, **kwargs
    )
    assert result.model == "offline" and result.system_fingerprint == "toolmesh-offline"
    return result.choices[0].message


def fake_tool(name: str, arguments: dict[str, Any]) -> str:
    if name == "calculate":
        return json.dumps({"result": eval(arguments["expression"], {"__builtins__": {}})})  # noqa: S307
    if name == "create_note":
        return json.dumps({"id": 1, **arguments})
    return json.dumps([])


def test_offline_model_drives_a_whole_run(gateway: RunningServer) -> None:
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="k", max_retries=0)
    objective = "Compute 6 * 7, then write a note about the answer"
    plan = json.loads(
        step(
            client,
            "create_tasks",
            {
                "objective": objective,
                "last_task": None,
                "done_tasks": [],
                "pending_tasks": [],
                "max_new_tasks": 5,
            },
        ).content
    )
    assert plan == {"tasks": ["Compute 6 * 7", "Write a note about the answer"], "objective_met": False}
    order = json.loads(
        step(
            client,
            "prioritize",
            {"objective": objective, "tasks": [{"id": i, "task": t} for i, t in enumerate(plan["tasks"], 1)]},
        ).content
    )["order"]
    assert order == [1, 2]
    results: list[dict[str, str]] = []
    for task in plan["tasks"]:
        data = {"objective": objective, "task": task, "context": [r["result"] for r in results]}
        message = step(client, "execute_task", data, tools=NOTE_TOOLS)
        call = message.tool_calls[0]
        output = fake_tool(call.function.name, json.loads(call.function.arguments))
        history = [
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": output},
        ]
        final = step(client, "execute_task", data, tools=NOTE_TOOLS, extra=history)
        assert final.content.startswith("[offline] Completed") and not final.tool_calls
        results.append({"task": task, "result": final.content})
    assert '{"result": 42}' in results[0]["result"]
    assert "create_note" in results[1]["result"] and "42" in results[1]["result"]
    again = json.loads(
        step(
            client,
            "create_tasks",
            {
                "objective": objective,
                "last_task": results[-1],
                "done_tasks": plan["tasks"],
                "pending_tasks": [],
                "max_new_tasks": 5,
            },
        ).content
    )
    assert again == {"tasks": [], "objective_met": True}
    report = step(client, "summarize", {"objective": objective, "tasks": results, "stop_reason": "objective met"})
    assert report.content.startswith("[offline] Report on") and "Compute 6 * 7" in report.content
