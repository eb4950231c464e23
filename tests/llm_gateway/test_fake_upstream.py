"""The fake upstream itself behaves like OpenAI, so what the gateway tests prove holds for the real thing."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import openai
import pytest

from tests.llm_gateway.conftest import nonce
from tests.support.servers import RunningServer

HELLO: Any = [{"role": "user", "content": "hi"}]
TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            },
        },
    }
]


def sdk(fake: RunningServer, key: str = "sk-upstream") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{fake.url}/v1", api_key=key, max_retries=0)


def test_stream_tool_call_deltas_have_index_always_and_id_first_only(fake_upstream: RunningServer) -> None:
    body = {
        "model": "m?tools=1",
        "messages": HELLO,
        "tools": TOOLS,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.stream(
        "POST",
        f"{fake_upstream.url}/v1/chat/completions",
        json=body,
        headers={"Authorization": "Bearer sk-upstream"},
    ) as response:
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    deltas = [d for c in chunks for choice in c["choices"] for d in choice["delta"].get("tool_calls") or []]
    assert all("index" in d for d in deltas)
    assert [("id" in d) for d in deltas] == [True, False, False]
    assert json.loads("".join(d["function"]["arguments"] for d in deltas)) == {"city": "Paris", "days": 1}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_injected_429_carries_retry_after_and_fail_times_recovers(fake_upstream: RunningServer) -> None:
    model = f"m{nonce()}?error=429&retry_after=3&fail_times=1"
    with pytest.raises(openai.RateLimitError) as caught:
        sdk(fake_upstream).chat.completions.create(model=model, messages=HELLO)
    assert caught.value.response.headers["retry-after"] == "3"
    assert sdk(fake_upstream).chat.completions.create(model=model, messages=HELLO).choices


def test_latency_from_model_and_header(fake_upstream: RunningServer) -> None:
    started = time.monotonic()
    sdk(fake_upstream).chat.completions.create(model="m?latency_ms=300", messages=HELLO)
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    sdk(fake_upstream).chat.completions.create(model="m", messages=HELLO, extra_headers={"x-fake-latency-ms": "200"})
    assert time.monotonic() - started >= 0.2


def test_wrong_upstream_key_is_401(fake_upstream: RunningServer) -> None:
    with pytest.raises(openai.AuthenticationError):
        sdk(fake_upstream, key="nope").chat.completions.create(model="m", messages=HELLO)


def test_midstream_drop_breaks_the_stream(fake_upstream: RunningServer) -> None:
    stream = sdk(fake_upstream).chat.completions.create(model="m?midstream=1&chunks=4", messages=HELLO, stream=True)
    with pytest.raises(openai.APIConnectionError):
        list(stream)
