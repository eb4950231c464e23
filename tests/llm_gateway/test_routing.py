"""The retry loop: backoff, Retry-After, fallback, skipped deployments, the total time budget."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from llm_gateway.config import RetryConfig
from llm_gateway.errors import ModelNotFound, UpstreamError, UpstreamTimeout
from llm_gateway.providers.base import Answer, Provider
from llm_gateway.routing import Route, Router


class Flaky(Provider):
    """Fails with the given errors in turn, then answers."""

    def __init__(self, label: str, failures: list[Exception], *, timeout: float = 5.0) -> None:
        super().__init__(label=label, timeout=timeout)
        self.failures = list(failures)
        self.calls = 0

    async def complete(self, body: dict[str, Any], *, timeout: float) -> Answer:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return Answer(body=self.label.encode(), usage=None)

    async def stream(self, body: dict[str, Any], *, timeout: float) -> AsyncIterator[bytes]:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        yield b"data: first\n\n"
        yield b"data: [DONE]\n\n"

    async def embed(self, body: dict[str, Any], *, timeout: float) -> Answer:
        return await self.complete(body, timeout=timeout)


def router(*providers: Provider, **retry: Any) -> tuple[Router, list[float]]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    config = RetryConfig(**{"max_retries": 2, "initial_backoff": 0.1, "max_backoff": 1.0, "jitter": 0.0, **retry})
    return Router({"m": Route(alias="m", providers=providers)}, config, sleep=sleep, jitter=lambda: 0.5), waits


def e(status: int, retry_after: float | None = None) -> UpstreamError:
    return UpstreamError(f"status {status}", status_code=status, retry_after=retry_after)


async def test_exponential_backoff_between_retries() -> None:
    rt, waits = router(Flaky("a", [e(500), e(503)]))
    result = await rt.complete("m", {})
    assert result.value.body == b"a" and result.attempts == 3
    assert waits == [0.1, 0.2]


async def test_jitter_shortens_backoff() -> None:
    rt, waits = router(Flaky("a", [e(500)]), jitter=0.5)
    await rt.complete("m", {})
    assert waits == [0.1 * (1 - 0.5 * 0.5)]


async def test_retry_after_is_honoured() -> None:
    rt, waits = router(Flaky("a", [e(429, retry_after=1.5)]))
    await rt.complete("m", {})
    assert waits == [1.5]


async def test_long_retry_after_falls_back_without_waiting() -> None:
    rt, waits = router(Flaky("a", [e(429, retry_after=100)]), Flaky("b", []), max_retry_after=5)
    result = await rt.complete("m", {})
    assert result.provider.label == "b" and waits == []


async def test_fallback_after_retries_exhausted() -> None:
    first = Flaky("a", [e(500)] * 5)
    rt, _ = router(first, Flaky("b", []))
    result = await rt.complete("m", {})
    assert (result.provider.label, result.attempts, first.calls) == ("b", 4, 3)


async def test_rejected_credentials_skip_to_next_without_retry() -> None:
    first = Flaky("a", [e(401)])
    rt, waits = router(first, Flaky("b", []))
    assert (await rt.complete("m", {})).provider.label == "b"
    assert first.calls == 1 and waits == []


async def test_client_error_is_not_retried_nor_fallen_back() -> None:
    second = Flaky("b", [])
    rt, _ = router(Flaky("a", [e(400)]), second)
    with pytest.raises(UpstreamError) as caught:
        await rt.complete("m", {})
    assert caught.value.status_code == 400 and second.calls == 0


async def test_last_error_raised_when_all_fail() -> None:
    rt, _ = router(Flaky("a", [e(500)] * 3), Flaky("b", [e(502)] * 3))
    with pytest.raises(UpstreamError) as caught:
        await rt.complete("m", {})
    assert caught.value.status_code == 502


async def test_slow_provider_times_out_and_falls_back() -> None:
    import asyncio

    class Slow(Flaky):
        async def complete(self, body: dict[str, Any], *, timeout: float) -> Answer:
            await asyncio.sleep(5)
            raise AssertionError("unreachable")

    rt, _ = router(Slow("slow", [], timeout=0.05), Flaky("b", []), max_retries=0)
    assert (await rt.complete("m", {})).provider.label == "b"
    rt, _ = router(Slow("slow", [], timeout=0.05), max_retries=0)
    with pytest.raises(UpstreamTimeout):
        await rt.complete("m", {})


async def test_total_timeout_stops_waiting() -> None:
    rt, waits = router(Flaky("a", [e(429, retry_after=3)] * 3), total_timeout=1)
    with pytest.raises(UpstreamError):
        await rt.complete("m", {})
    assert waits == []


async def test_stream_falls_back_before_first_event() -> None:
    rt, _ = router(Flaky("a", [e(503)] * 3), Flaky("b", []))
    opened = await rt.stream("m", {})
    assert opened.provider.label == "b" and opened.value.first == b"data: first\n\n"


async def test_unknown_alias() -> None:
    rt, _ = router(Flaky("a", []))
    with pytest.raises(ModelNotFound):
        await rt.complete("other", {})


async def test_failing_deployment_rests_then_is_tried_again() -> None:
    now = [0.0]
    broken, spare = Flaky("a", [e(500)] * 10), Flaky("b", [])
    config = RetryConfig(max_retries=0, cooldown_after=2, cooldown=30)

    async def sleep(seconds: float) -> None:
        pass

    rt = Router({"m": Route(alias="m", providers=(broken, spare))}, config, sleep=sleep, clock=lambda: now[0])
    for _ in range(2):
        assert (await rt.complete("m", {})).attempts == 2
    assert (await rt.complete("m", {})).attempts == 1 and broken.calls == 2
    now[0] += 31
    assert (await rt.complete("m", {})).attempts == 2 and broken.calls == 3


async def test_resting_deployments_are_still_tried_when_all_rest() -> None:
    only = Flaky("a", [e(500)] * 2)
    rt = Router(
        {"m": Route(alias="m", providers=(only,))},
        RetryConfig(max_retries=0, cooldown_after=1),
        clock=lambda: 0.0,
    )
    for _ in range(2):
        with pytest.raises(UpstreamError):
            await rt.complete("m", {})
    assert (await rt.complete("m", {})).provider.label == "a"
