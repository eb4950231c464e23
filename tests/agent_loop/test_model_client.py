"""The model step's gateway call, against a fake OpenAI-compatible server on a real socket."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import httpx
import pytest

from agent_loop.activities import step_answer
from agent_loop.errors import ModelStepError
from agent_loop.model_client import chat_completion
from agent_loop.settings import Settings
from tests.support.servers import RunningServer, free_port, start_uvicorn

KEY = "gateway-test-key"
MESSAGES = [{"role": "user", "content": "Add 2 and 3"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add two numbers",
            "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
        },
    }
]


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("fake-gateway")
    server = start_uvicorn(
        "tests.support.fake_openai:app", log_path=root / "fake.log", env={"FAKE_OPENAI_API_KEY": KEY}
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def settings_for(url: str, *, key: str = KEY, retries: int = 2, timeout: float = 10.0) -> Settings:
    return Settings.model_validate(
        {
            "LLM_GATEWAY_URL": url,
            "TOOLMESH_GATEWAY_KEY": key,
            "TOOLMESH_LLM_MAX_RETRIES": retries,
            "TOOLMESH_LLM_TIMEOUT": timeout,
        }
    )


def requests_seen(fake: RunningServer) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = httpx.get(f"{fake.url}/_control/requests").json()
    return seen


def reset(fake: RunningServer) -> None:
    httpx.post(f"{fake.url}/_control/reset").raise_for_status()


async def test_a_step_sends_the_body_key_and_run_headers_and_keeps_the_answer(
    fake: RunningServer, http: aiohttp.ClientSession
) -> None:
    reset(fake)
    body = {"model": "fake?tools=1", "messages": MESSAGES, "tools": TOOLS}
    completion = await chat_completion(
        http, settings_for(fake.url), "execute_task", body, {"X-Toolmesh-Run-Id": "run-1"}
    )
    answer = step_answer("execute_task", completion)
    assert answer["tool_calls"] and answer["tool_calls"][0]["name"] == "add"
    assert answer["usage"]["total_tokens"] > 0
    [sent] = requests_seen(fake)
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["authorization"] == f"Bearer {KEY}"
    assert sent["headers"]["x-toolmesh-run-id"] == "run-1"
    assert sent["body"]["tools"] == TOOLS


async def test_a_429_then_success_is_retried_honouring_retry_after(
    fake: RunningServer, http: aiohttp.ClientSession
) -> None:
    reset(fake)
    body = {"model": "fake?error=429&fail_times=1&retry_after=0", "messages": MESSAGES}
    completion = await chat_completion(http, settings_for(fake.url), "plan", body, {})
    assert step_answer("plan", completion)["content"]
    assert len(requests_seen(fake)) == 2


async def test_a_persistent_503_fails_after_the_configured_retries_with_the_reason(
    fake: RunningServer, http: aiohttp.ClientSession
) -> None:
    reset(fake)
    body = {"model": "fake?error=503&retry_after=0", "messages": MESSAGES}
    with pytest.raises(ModelStepError) as caught:
        await chat_completion(http, settings_for(fake.url, retries=2), "plan", body, {})
    assert "503" in str(caught.value) and "injected failure 503" in str(caught.value)
    assert "'plan'" in str(caught.value)
    assert len(requests_seen(fake)) == 3


async def test_a_client_error_is_not_retried(fake: RunningServer, http: aiohttp.ClientSession) -> None:
    reset(fake)
    with pytest.raises(ModelStepError, match="400: injected failure 400"):
        await chat_completion(
            http, settings_for(fake.url), "plan", {"model": "fake?error=400", "messages": MESSAGES}, {}
        )
    assert len(requests_seen(fake)) == 1


async def test_a_wrong_gateway_key_is_reported_not_retried(fake: RunningServer, http: aiohttp.ClientSession) -> None:
    with pytest.raises(ModelStepError, match="401: Incorrect API key"):
        await chat_completion(http, settings_for(fake.url, key="wrong"), "plan", {"model": "fake"}, {})


async def test_an_unreachable_gateway_is_named_after_the_retries(http: aiohttp.ClientSession) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ModelStepError, match="could not reach the gateway"):
        await chat_completion(http, settings_for(url, retries=1), "plan", {"model": "fake"}, {})


async def test_a_slow_gateway_times_out_with_the_limit_in_the_message(
    fake: RunningServer, http: aiohttp.ClientSession
) -> None:
    body = {"model": "fake?latency_ms=2000", "messages": MESSAGES}
    with pytest.raises(ModelStepError, match="did not answer within 0.2 s"):
        await chat_completion(http, settings_for(fake.url, retries=0, timeout=0.2), "plan", body, {})


class Heard:
    """A step listener that keeps what it hears and how often it was closed."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.closed = 0

    def text(self, delta: str) -> None:
        self.texts.append(delta)

    def tool(self, index: int, name: str | None, arguments: str) -> None:
        pass

    async def flush(self) -> None:
        pass

    async def close(self) -> None:
        self.closed += 1


async def test_a_streamed_step_adds_up_to_the_plain_answer(fake: RunningServer, http: aiohttp.ClientSession) -> None:
    heard = Heard()
    body = {"model": "fake?reply=one two three&chunks=3", "messages": MESSAGES}
    completion = await chat_completion(http, settings_for(fake.url), "plan", body, {}, heard)
    answer = step_answer("plan", completion)
    assert answer["content"] == "one two three" == "".join(heard.texts)
    assert len(heard.texts) == 3 and heard.closed == 1
    assert answer["usage"]["total_tokens"] > 0


async def test_streamed_steps_keep_one_connection_to_the_gateway(fake: RunningServer) -> None:
    """Each stream is read to its very end (past [DONE]), so its connection goes back to the pool:
    left unread, aiohttp closes it and every model step pays for a new connection."""
    opened: list[object] = []

    async def on_open(*_: object) -> None:
        opened.append(object())

    tracing = aiohttp.TraceConfig()
    tracing.on_connection_create_end.append(on_open)
    body = {"model": "fake?reply=one two three&chunks=3", "messages": MESSAGES}
    async with aiohttp.ClientSession(trace_configs=[tracing]) as session:
        for _ in range(8):
            heard = Heard()
            completion = await chat_completion(session, settings_for(fake.url), "plan", body, {}, heard)
            assert step_answer("plan", completion)["content"] == "one two three"
    assert len(opened) == 1


async def test_a_stream_kept_open_after_done_does_not_hold_the_step(
    fake: RunningServer, http: aiohttp.ClientSession
) -> None:
    """A server that leaves the response open after [DONE] costs the step at most a moment."""
    heard = Heard()
    body = {"model": "fake?reply=one two&chunks=2&linger_ms=30000", "messages": MESSAGES}
    started = time.monotonic()
    completion = await chat_completion(http, settings_for(fake.url, timeout=60), "plan", body, {}, heard)
    assert time.monotonic() - started < 15  # far from the 30 s the server lingers
    assert step_answer("plan", completion)["content"] == "one two" == "".join(heard.texts)
    assert heard.closed == 1


@pytest.mark.parametrize("shape", ["choices", "message", "content", "json"])
async def test_a_streamed_answer_that_is_not_a_chat_completion_fails_the_step_at_once(
    fake: RunningServer, http: aiohttp.ClientSession, shape: str
) -> None:
    """Not an empty answer, and not asked again: the same server would answer the same way."""
    reset(fake)
    heard = Heard()
    body = {"model": f"fake?malformed={shape}", "messages": MESSAGES}
    with pytest.raises(ModelStepError, match="not a chat completion") as caught:
        await chat_completion(http, settings_for(fake.url, retries=2), "plan", body, {}, heard)
    assert "'plan'" in str(caught.value)
    assert len(requests_seen(fake)) == 1
    assert heard.closed == 1  # what was open in the run's event stream is ended


@pytest.mark.parametrize(
    "completion",
    [
        {},
        {"choices": []},
        {"choices": [{"message": None}]},
        {"choices": [{"message": {}}], "usage": {"total_tokens": "x"}},
        {"choices": [{"message": {"content": {"text": "a dict"}}}]},
        {"choices": [{"message": {"content": [{"type": "text", "text": 1}]}}]},
        {"choices": [{"message": {"tool_calls": {"id": "c1"}}}]},
    ],
)
def test_an_answer_that_is_not_a_chat_completion_is_a_clear_step_error(completion: dict[str, Any]) -> None:
    with pytest.raises(ModelStepError, match="not a chat completion"):
        step_answer("summarize", completion)


def test_tool_calls_without_arguments_get_an_empty_object() -> None:
    completion = {
        "choices": [
            {
                "message": {"content": None, "tool_calls": [{"id": "c1", "function": {"name": "add"}}]},
                "finish_reason": "tool_calls",
            }
        ]
    }
    answer = step_answer("execute_task", completion)
    assert answer["tool_calls"] == [{"id": "c1", "name": "add", "arguments": "{}", "event_id": None}]
    assert answer["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cost_usd": 0.0}


def test_arguments_as_an_object_and_content_as_parts_are_normalised() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": {"a": 1, "b": "é"}}}
    content = [{"type": "text", "text": "two "}, {"type": "reasoning", "summary": []}, "parts"]
    answer = step_answer("execute_task", {"choices": [{"message": {"content": content, "tool_calls": [call]}}]})
    assert answer["content"] == "two parts"
    assert answer["tool_calls"] == [{"id": "c1", "name": "add", "arguments": '{"a": 1, "b": "é"}', "event_id": None}]
