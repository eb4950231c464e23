"""The unchanged openai SDK against the gateway, with the fake upstream behind it."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import openai
import pytest

from tests.support.servers import RunningServer

WEATHER_TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "Local time in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
]
HELLO: Any = [{"role": "user", "content": "hello"}]


def client(server: RunningServer, **options: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="any", max_retries=0, **options)


def test_completion_passes_through_upstream_answer(gateway: RunningServer) -> None:
    result = client(gateway).chat.completions.create(model="fake", messages=[{"role": "user", "content": "ping"}])
    assert result.model == "fake-gpt"
    assert result.choices[0].message.content is not None
    assert result.choices[0].message.content.endswith(": ping")
    assert result.usage is not None and result.usage.total_tokens > 0


def test_completion_works_over_httpx_transport(gateway: RunningServer) -> None:
    result = client(gateway).chat.completions.create(model="fake-httpx", messages=HELLO)
    assert result.choices[0].finish_reason == "stop"


def test_parallel_tool_calls_pass_through_intact(gateway: RunningServer) -> None:
    result = client(gateway).chat.completions.create(model="tools", messages=HELLO, tools=WEATHER_TOOLS)
    calls: list[Any] = list(result.choices[0].message.tool_calls or [])
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0].function.arguments) == {"city": "Paris"}
    assert result.choices[0].finish_reason == "tool_calls"


def test_stream_reassembles_tool_call_chunks_and_reports_usage(gateway: RunningServer) -> None:
    stream = client(gateway).chat.completions.create(
        model="tools",
        messages=HELLO,
        tools=WEATHER_TOOLS,
        stream=True,
        stream_options={"include_usage": True},
    )
    arguments: dict[int, str] = {}
    names: dict[int, str] = {}
    usage = None
    finish = None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or []:
                if delta.function and delta.function.name:
                    names[delta.index] = delta.function.name
                if delta.function and delta.function.arguments:
                    arguments[delta.index] = arguments.get(delta.index, "") + delta.function.arguments
    assert names == {0: "get_weather", 1: "get_time"}
    assert json.loads(arguments[0]) == {"city": "Paris"}
    assert finish == "tool_calls"
    assert usage is not None and usage.total_tokens > 0


@pytest.mark.parametrize("alias", ["reuse-aiohttp", "reuse-httpx"])
def test_streams_to_the_upstream_share_one_connection(
    gateway: RunningServer, fake_upstream: RunningServer, alias: str
) -> None:
    """Each upstream stream is read to its end, past [DONE], so its connection goes back to the pool
    (a closed one would cost every streamed step a new connection, a TLS handshake with a hosted model)."""
    for _ in range(10):
        stream = client(gateway).chat.completions.create(model=alias, messages=HELLO, stream=True)
        assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    seen = httpx.get(f"{fake_upstream.url}/_control/requests").json()
    ports = {request["client_port"] for request in seen if request["body"].get("model") == alias}
    assert len(ports) == 1


def test_an_upstream_that_keeps_its_stream_open_after_done_does_not_hold_the_answer(gateway: RunningServer) -> None:
    started = time.monotonic()
    stream = client(gateway).chat.completions.create(model="lingers", messages=HELLO, stream=True)
    finishes = [chunk.choices[0].finish_reason for chunk in stream if chunk.choices]
    assert finishes[-1] == "stop"
    assert time.monotonic() - started < 15  # far from the 30 s the upstream keeps it open


def test_stream_omits_usage_chunk_unless_asked(gateway: RunningServer) -> None:
    chunks = list(client(gateway).chat.completions.create(model="fake", messages=HELLO, stream=True))
    assert chunks and all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).endswith(": hello")


def test_raw_stream_is_sse_ending_with_done(gateway: RunningServer) -> None:
    body = {"model": "fake", "messages": HELLO, "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-accel-buffering"] == "no"
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert '"usage":{' in events[-2] and '"choices":[]' in events[-2]


def test_retry_honours_retry_after_on_429(gateway: RunningServer) -> None:
    started = time.monotonic()
    raw = client(gateway).chat.completions.with_raw_response.create(model="flaky-429", messages=HELLO)
    assert time.monotonic() - started >= 0.95
    assert raw.headers["x-toolmesh-attempts"] == "2"
    assert raw.parse().choices[0].message.content


def test_retry_with_backoff_on_5xx(gateway: RunningServer) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(model="flaky-500", messages=HELLO)
    assert raw.headers["x-toolmesh-attempts"] == "3"


def test_stream_retries_failure_before_first_chunk(gateway: RunningServer) -> None:
    chunks = list(client(gateway).chat.completions.create(model="flaky-stream", messages=HELLO, stream=True))
    assert any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks)


def test_fallback_to_next_deployment_after_retries(gateway: RunningServer) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(model="fallback", messages=HELLO)
    assert raw.headers["x-toolmesh-deployment"] == "healthy"
    assert raw.headers["x-toolmesh-attempts"] == "4"


def test_fallback_at_once_when_retry_after_too_long(gateway: RunningServer) -> None:
    started = time.monotonic()
    raw = client(gateway).chat.completions.with_raw_response.create(model="fallback-429-long", messages=HELLO)
    assert raw.headers["x-toolmesh-deployment"] == "spare"
    assert time.monotonic() - started < 2


def test_fallback_skips_deployment_with_rejected_credentials(gateway: RunningServer) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(model="bad-key", messages=HELLO)
    assert raw.headers["x-toolmesh-deployment"] == "goodkey"
    assert raw.headers["x-toolmesh-attempts"] == "2"


def test_fallback_after_timeouts(gateway: RunningServer) -> None:
    started = time.monotonic()
    raw = client(gateway).chat.completions.with_raw_response.create(model="slow-fallback", messages=HELLO)
    assert raw.headers["x-toolmesh-deployment"] == "fast"
    assert time.monotonic() - started < 2.5


def test_timeout_everywhere_is_504(gateway: RunningServer) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client(gateway).chat.completions.create(model="slow", messages=HELLO)
    assert caught.value.status_code == 504
    assert caught.value.type == "timeout"


def test_request_timeout_header_bounds_the_wait(gateway: RunningServer) -> None:
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as caught:
        client(gateway).chat.completions.create(
            model="slow", messages=HELLO, extra_headers={"X-Toolmesh-Timeout": "0.2"}
        )
    assert caught.value.status_code == 504
    assert time.monotonic() - started < 1.0


def test_upstream_400_is_returned_without_retry(gateway: RunningServer) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(gateway).chat.completions.create(model="rejects", messages=HELLO)
    assert "injected failure 400" in caught.value.message


def test_upstream_5xx_after_retries_reaches_client(gateway: RunningServer) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        client(gateway).chat.completions.create(model="down", messages=HELLO)
    assert caught.value.status_code == 502


def test_midstream_disconnect_reaches_client_as_error(gateway: RunningServer) -> None:
    stream = client(gateway).chat.completions.create(model="midstream", messages=HELLO, stream=True)
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass


def test_midstream_error_event_reaches_client_as_error(gateway: RunningServer) -> None:
    body = {"model": "midstream-event", "messages": HELLO, "stream": True}
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=body) as response:
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert '"error"' in events[-1]
    assert "data: [DONE]" not in events
    stream = client(gateway).chat.completions.create(model="midstream-event", messages=HELLO, stream=True)
    with pytest.raises(openai.APIError, match="mid-stream"):
        list(stream)


@pytest.mark.parametrize("alias", ["azure", "azure-v1", "azure-entra"])
def test_azure_deployments_answer(gateway: RunningServer, alias: str) -> None:
    result = client(gateway).chat.completions.create(model=alias, messages=HELLO)
    assert result.model.startswith("gpt-az")


def test_azure_uses_deployment_path_api_version_and_api_key(
    gateway: RunningServer, fake_upstream: RunningServer
) -> None:
    client(gateway).chat.completions.create(model="azure", messages=[{"role": "user", "content": "azure-probe"}])
    seen = [
        r
        for r in httpx.get(f"{fake_upstream.url}/_control/requests").json()
        if r["body"].get("messages") == [{"role": "user", "content": "azure-probe"}]
    ]
    assert seen[-1]["path"] == "/openai/deployments/gpt-az/chat/completions"
    assert seen[-1]["query"] == "api-version=2024-10-21"
    assert seen[-1]["headers"]["api-key"] == "sk-upstream"


def test_upstream_sees_its_own_key_and_model_never_the_client_key(
    gateway: RunningServer, fake_upstream: RunningServer
) -> None:
    openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="client-secret-key", max_retries=0).chat.completions.create(
        model="fake", messages=[{"role": "user", "content": "key-probe"}], stream=True
    ).close()
    seen = [
        r
        for r in httpx.get(f"{fake_upstream.url}/_control/requests").json()
        if r["body"].get("messages") == [{"role": "user", "content": "key-probe"}]
    ]
    assert seen[-1]["headers"]["authorization"] == "Bearer sk-upstream"
    assert "client-secret-key" not in json.dumps(seen[-1])
    assert seen[-1]["body"]["model"] == "fake-gpt"
    assert seen[-1]["body"]["stream_options"] == {"include_usage": True}
    assert "x-stainless-os" not in seen[-1]["headers"]


def test_embeddings_through_upstream_and_offline(gateway: RunningServer) -> None:
    upstream = client(gateway).embeddings.create(model="fake", input=["a", "b"])
    assert len(upstream.data) == 2 and upstream.usage.total_tokens > 0
    offline = client(gateway).embeddings.create(model="offline", input="solar panels")
    again = client(gateway).embeddings.create(model="offline", input="solar panels")
    assert offline.data[0].embedding == again.data[0].embedding
    assert len(offline.data[0].embedding) == 64


def test_models_lists_aliases_with_offline_labelled(gateway: RunningServer) -> None:
    models = {m.id: m for m in client(gateway).models.list()}
    assert models["offline"].owned_by == "toolmesh-offline"
    assert models["fake"].owned_by == "toolmesh:openai"
    assert client(gateway).models.retrieve("azure").owned_by == "toolmesh:azure"
    with pytest.raises(openai.NotFoundError):
        client(gateway).models.retrieve("nope")


def test_client_leaving_a_stream_is_logged_as_499(gateway: RunningServer) -> None:
    body = {"model": "slow-stream", "messages": HELLO, "stream": True}
    headers = {"X-Toolmesh-Run-Id": "run-left-early"}
    started = time.monotonic()
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=body, headers=headers) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                break
    records: list[Any] = []
    while time.monotonic() - started < 3 and not records:
        records = httpx.get(f"{gateway.url}/v1/usage", params={"run_id": "run-left-early"}).json()["data"]
        time.sleep(0.05)
    assert records and records[0]["status"] == 499
    assert time.monotonic() - started < 3  # the 4 s upstream stream was abandoned, not drained


def test_azure_embeddings_use_the_deployment(gateway: RunningServer) -> None:
    result = client(gateway).embeddings.create(model="azure", input="azure embedding")
    assert result.model == "gpt-az" and len(result.data) == 1


def test_silent_upstream_gets_keepalive_comments_and_sdk_ignores_them(gateway: RunningServer) -> None:
    body = {"model": "gappy", "messages": HELLO, "stream": True}
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=body) as response:
        lines = list(response.iter_lines())
    assert ": keepalive" in lines
    assert [line for line in lines if line.startswith("data: ")][-1] == "data: [DONE]"
    chunks = list(client(gateway).chat.completions.create(model="gappy", messages=HELLO, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).endswith(": hello")


def test_priced_deployment_puts_a_cost_on_usage(gateway: RunningServer) -> None:
    result = client(gateway).chat.completions.create(
        model="priced", messages=HELLO, extra_headers={"X-Toolmesh-Run-Id": "run-priced"}
    )
    assert result.usage is not None
    usage = httpx.get(f"{gateway.url}/v1/usage", params={"run_id": "run-priced", "group_by": "deployment"}).json()
    expected = result.usage.prompt_tokens * 1 + result.usage.completion_tokens * 2
    assert usage["data"][0]["cost_usd"] == pytest.approx(expected)
    assert usage["totals"]["cost_usd"] == pytest.approx(expected)
    assert usage["groups"][0]["cost_usd"] == pytest.approx(expected)
