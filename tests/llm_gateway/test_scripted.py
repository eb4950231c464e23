"""The scripted provider replays its file, statelessly, through the gateway."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from llm_gateway.errors import ConfigError, UpstreamError
from llm_gateway.providers.scripted import ScriptedProvider, load_script
from tests.support.servers import RunningServer


def execute_messages(task: str, tool_results: int = 0) -> Any:
    messages: list[Any] = [
        {"role": "system", "content": "[toolmesh:execute_task]\nRun it."},
        {"role": "user", "content": json.dumps({"objective": "o", "task": task, "context": []})},
    ]
    if tool_results:
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{i}",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": "{}"},
                    }
                    for i in range(tool_results)
                ],
            }
        )
        messages.extend({"role": "tool", "tool_call_id": f"call_{i}", "content": "sunny"} for i in range(tool_results))
    return messages


def sdk(server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="any", max_retries=0)


def test_parallel_tool_calls_then_answer_by_tool_message_count(gateway: RunningServer) -> None:
    first = sdk(gateway).chat.completions.create(model="scripted", messages=execute_messages("Check the weather"))
    calls: list[Any] = list(first.choices[0].message.tool_calls or [])
    assert [(c.id, json.loads(c.function.arguments)) for c in calls] == [
        ("call_a", {"city": "Paris"}),
        ("call_b", {"city": "Rome"}),
    ]
    assert first.model == "scripted-demo"
    again = sdk(gateway).chat.completions.create(model="scripted", messages=execute_messages("Check the weather"))
    assert again.choices[0].message.tool_calls == first.choices[0].message.tool_calls
    final = sdk(gateway).chat.completions.create(
        model="scripted", messages=execute_messages("Check the weather", tool_results=2)
    )
    assert final.choices[0].message.content == "Paris is sunny, Rome is rainy."


def test_deliberately_broken_call_is_sent_as_written(gateway: RunningServer) -> None:
    stream: Any = sdk(gateway).chat.completions.create(
        model="scripted",
        messages=execute_messages("a broken task"),
        stream=True,
    )
    name, arguments = "", ""
    for chunk in stream:
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            name += (delta.function.name or "") if delta.function else ""
            arguments += (delta.function.arguments or "") if delta.function else ""
    assert (name, arguments) == ("no_such_tool", '{"city": ')


def test_scripted_json_and_usage(gateway: RunningServer) -> None:
    plan = sdk(gateway).chat.completions.create(
        model="scripted",
        messages=[
            {"role": "system", "content": "[toolmesh:create_tasks]"},
            {
                "role": "user",
                "content": json.dumps({"objective": "o", "done_tasks": [], "pending_tasks": []}),
            },
        ],
    )
    assert json.loads(plan.choices[0].message.content or "") == {
        "tasks": ["Check the weather"],
        "objective_met": False,
    }
    counted = sdk(gateway).chat.completions.create(
        model="scripted", messages=[{"role": "user", "content": "usage please"}]
    )
    assert counted.usage is not None and (counted.usage.prompt_tokens, counted.usage.completion_tokens) == (
        11,
        7,
    )


def test_scripted_error_status_after_retries(gateway: RunningServer) -> None:
    with pytest.raises(openai.RateLimitError, match="scripted busy"):
        sdk(gateway).chat.completions.create(model="scripted", messages=[{"role": "user", "content": "busy"}])


def test_no_matching_entry_is_a_clear_422(gateway: RunningServer) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "scripted", "messages": [{"role": "user", "content": "unmatched"}]},
    )
    assert response.status_code == 422
    assert "has no entry for this request" in response.json()["error"]["message"]


async def test_script_reloaded_when_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"entries": [{"respond": {"content": "one"}}]}))
    provider = ScriptedProvider(path=path, label="s")
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    assert (await provider.local_answer(body)).content == "one"
    path.write_text(json.dumps({"entries": [{"respond": {"content": "two"}}]}))
    import os

    os.utime(path, ns=(1, 1))
    assert (await provider.local_answer(body)).content == "two"


async def test_delay_and_offline_fallback(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("on_no_match: offline\nentries:\n  - match: {model: never}\n    respond: {content: x}\n")
    provider = ScriptedProvider(path=path, label="s")
    result = await provider.local_answer({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert result.content is not None and result.content.startswith("[offline] ")


def test_invalid_script_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("entries:\n  - respond: {status: 200}\n")
    with pytest.raises(ConfigError, match="entries.0.respond.status"):
        load_script(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_script(tmp_path / "missing.yaml")


async def test_error_entry_raises_upstream_error(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text("entries:\n  - respond: {status: 503, retry_after: 2}\n")
    with pytest.raises(UpstreamError) as caught:
        await ScriptedProvider(path=path, label="s").local_answer({"messages": []})
    assert (caught.value.status_code, caught.value.retry_after) == (503, 2)
