"""SSE regrouping and in-band errors; the sliding-window limiter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from starlette.types import Message, Send

from llm_gateway.adapters.sse import event_usage, is_usage_only, iter_events
from llm_gateway.adapters.sse_response import KEEPALIVE, SSEResponse
from llm_gateway.config import LimitsConfig
from llm_gateway.errors import RateLimited, UpstreamError, UpstreamUnavailable
from llm_gateway.keys import ClientKey
from llm_gateway.limits import RateLimiter


async def pieces(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def collect(*chunks: bytes) -> list[bytes]:
    return [event async for event in iter_events(pieces(*chunks))]


async def test_events_regrouped_across_chunk_boundaries() -> None:
    blobs = await collect(b'data: {"a"', b':1}\n\ndata: {"b":2}\r\n\r\n: keepalive\n\n', b"data: [DONE]\n\n")
    assert blobs == [b'data: {"a":1}\n\ndata: {"b":2}\n\n', b"data: [DONE]\n\n"]


async def test_nothing_after_done_is_passed_on() -> None:
    assert await collect(b'data: {"a":1}\n\ndata: [DONE]\n\ndata: junk\n\n') == [b'data: {"a":1}\n\ndata: [DONE]\n\n']


async def test_in_band_error_raises() -> None:
    with pytest.raises(UpstreamError, match="boom"):
        await collect(b'data: {"x":1}\n\n', b'data: {"error": {"message": "boom", "type": "server_error"}}\n\n')


async def test_stream_cut_before_done_raises() -> None:
    with pytest.raises(UpstreamUnavailable):
        await collect(b'data: {"x":1}\n\n')


def test_usage_chunk_recognised() -> None:
    chunk = b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}\n\n'
    usage = event_usage(chunk)
    assert usage is not None and usage.total_tokens == 7 and is_usage_only(chunk)
    assert event_usage(b'data: {"choices":[{"delta":{"content":"usage"}}]}\n\n') is None


def limiter(**limits: int) -> tuple[RateLimiter, list[float]]:
    now = [1000.0]
    return RateLimiter(default=LimitsConfig(**limits), by_name={}, clock=lambda: now[0]), now


def test_rpm_window_slides() -> None:
    rl, now = limiter(rpm=2)
    key = ClientKey(name="k", key_hash="h")
    rl.admit(key, 1)
    now[0] += 30
    rl.admit(key, 1)
    with pytest.raises(RateLimited) as caught:
        rl.admit(key, 1)
    assert caught.value.retry_after == pytest.approx(30)
    now[0] += 30.5
    rl.admit(key, 1)


def test_tpm_counts_reported_tokens() -> None:
    rl, now = limiter(tpm=100)
    key = ClientKey(name="k", key_hash="h")
    rl.admit(key, 10)
    rl.record(key, 95)
    with pytest.raises(RateLimited) as caught:
        rl.admit(key, 10)
    assert caught.value.error_type == "tokens"
    now[0] += 61
    rl.admit(key, 10)


def test_key_limits_override_defaults() -> None:
    rl = RateLimiter(default=LimitsConfig(rpm=100), by_name={"ci": LimitsConfig(rpm=1)})
    assert rl.limits_for(ClientKey(name="ci", key_hash="")) == (1, None)
    assert rl.limits_for(ClientKey(name="x", key_hash="", tpm=5)) == (100, 5)


async def test_events_before_an_in_band_error_are_passed_on_first() -> None:
    seen: list[bytes] = []
    with pytest.raises(UpstreamError):
        async for blob in iter_events(pieces(b'data: {"x":1}\n\ndata: {"error": {"message": "late"}}\n\n')):
            seen.append(blob)
    assert seen == [b'data: {"x":1}\n\n']


async def _respond(response: SSEResponse, send: Send, leave_after: float | None = None) -> None:
    async def receive() -> Message:
        await asyncio.sleep(3600 if leave_after is None else leave_after)
        return {"type": "http.disconnect"}

    await response({"type": "http", "asgi": {"spec_version": "2.3"}}, receive, send)


def _bodies(sent: list[Message]) -> list[bytes]:
    return [message["body"] for message in sent if message["type"] == "http.response.body"]


async def test_keepalive_comments_fill_silences() -> None:
    async def slow() -> AsyncIterator[bytes]:
        yield b"data: 1\n\n"
        await asyncio.sleep(0.25)
        yield b"data: 2\n\n"

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await _respond(SSEResponse(slow(), keepalive=0.1), send)
    bodies = _bodies(sent)
    assert bodies[0] == b"data: 1\n\n" and bodies[-2:] == [b"data: 2\n\n", b""]
    assert 1 <= bodies.count(KEEPALIVE) <= 2
    assert sent[-1]["more_body"] is False


async def test_a_busy_stream_gets_no_comments() -> None:
    async def busy() -> AsyncIterator[bytes]:
        for n in range(15):
            yield f"data: {n}\n\n".encode()
            await asyncio.sleep(0.02)

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await _respond(SSEResponse(busy(), keepalive=0.1), send)
    assert KEEPALIVE not in _bodies(sent)
    assert len(_bodies(sent)) == 16


async def test_comments_never_write_while_a_slow_client_takes_an_event() -> None:
    async def events() -> AsyncIterator[bytes]:
        yield b"data: 1\n\n"
        await asyncio.sleep(0.2)
        yield b"data: 2\n\n"

    inside = 0
    overlaps = 0
    sent: list[Message] = []

    async def slow_send(message: Message) -> None:
        nonlocal inside, overlaps
        inside += 1
        overlaps += inside > 1
        if message.get("body") == b"data: 1\n\n":
            await asyncio.sleep(0.3)  # the client reads slowly: the send waits, well past the keep-alive
        sent.append(message)
        inside -= 1

    await _respond(SSEResponse(events(), keepalive=0.05), slow_send)
    assert overlaps == 0
    assert _bodies(sent)[0] == b"data: 1\n\n" and _bodies(sent)[-1] == b""


async def test_a_client_that_leaves_closes_the_source_and_its_comments() -> None:
    closed: list[bool] = []

    async def source() -> AsyncIterator[bytes]:
        try:
            yield b"data: 1\n\n"
            await asyncio.sleep(10)
        finally:
            closed.append(True)

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await asyncio.wait_for(_respond(SSEResponse(source(), keepalive=0.05), send, leave_after=0.2), 2)
    assert closed == [True]
    written = len(sent)
    assert KEEPALIVE in _bodies(sent)
    await asyncio.sleep(0.15)
    assert len(sent) == written  # no comment after the client left
