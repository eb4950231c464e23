"""Model aliases to deployments, and the one retry loop of the gateway.

An alias lists deployments in fallback order. Each gets ``1 + max_retries`` attempts on
retryable failures (408, 409, 429, 5xx, timeouts, broken connections) with exponential
backoff and jitter, or the upstream's Retry-After when it gives one (a Retry-After longer
than ``max_retry_after`` moves on to the next deployment at once). A deployment that rejects
the gateway's credentials or does not know the model (401/403/404) is skipped; other 4xx
answers are the request's fault and go straight back to the client. All attempts and waits
of one request share ``total_timeout``, so retries times timeouts cannot pile up. A deployment
that keeps failing rests for a while (``Breakers``) so requests go straight to the next one.

Streams count as started only when their first event has arrived: a failure before that
still retries and falls back; after it, the client gets an in-band error event.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from llm_gateway.config import RetryConfig
from llm_gateway.errors import ModelNotFound, UpstreamError, UpstreamTimeout
from llm_gateway.providers.base import Answer, Provider

__all__ = ["Attempted", "Breakers", "OpenedStream", "Route", "Router"]

T = TypeVar("T")
log = logging.getLogger("llm_gateway.routing")
_SKIP_DEPLOYMENT = frozenset({401, 403, 404})


@dataclass(kw_only=True, slots=True)
class _Health:
    failures: int = 0
    open_until: float = 0.0


class Breakers:
    """Rest a deployment that keeps failing, so requests stop paying its retries before falling back.

    After ``threshold`` requests in a row exhausted a deployment, it is skipped for ``cooldown``
    seconds, then tried again (one success closes it). When every deployment of an alias is
    resting, all are tried anyway: a slim chance beats a certain error.
    """

    def __init__(self, *, threshold: int, cooldown: float, clock: Callable[[], float]) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._health: dict[int, _Health] = {}

    def usable(self, providers: tuple[Provider, ...]) -> tuple[Provider, ...]:
        if not self.threshold:
            return providers
        now = self._clock()
        ready = tuple(p for p in providers if self._health.get(id(p), _Health()).open_until <= now)
        return ready or providers

    def succeeded(self, provider: Provider) -> None:
        if self.threshold and id(provider) in self._health:
            del self._health[id(provider)]

    def failed(self, provider: Provider) -> None:
        if not self.threshold:
            return
        health = self._health.setdefault(id(provider), _Health())
        health.failures += 1
        if health.failures >= self.threshold:
            health.failures = 0
            health.open_until = self._clock() + self.cooldown
            log.warning("deployment resting", extra={"deployment": provider.label, "seconds": self.cooldown})


@dataclass(frozen=True, kw_only=True, slots=True)
class Route:
    alias: str
    providers: tuple[Provider, ...]
    description: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Attempted(Generic[T]):
    """A result and who produced it after how many attempts."""

    value: T
    provider: Provider
    attempts: int


@dataclass(frozen=True, kw_only=True, slots=True)
class OpenedStream:
    first: bytes
    rest: AsyncIterator[bytes]


class Router:
    def __init__(
        self,
        routes: dict[str, Route],
        retry: RetryConfig,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.routes = routes
        self.retry = retry
        self._sleep = sleep
        self._jitter = jitter
        self.breakers = Breakers(threshold=retry.cooldown_after, cooldown=retry.cooldown, clock=clock)

    def route(self, alias: str) -> Route:
        route = self.routes.get(alias)
        if route is None:
            raise ModelNotFound(alias)
        return route

    def _backoff(self, attempt: int) -> float:
        base: float = min(self.retry.max_backoff, self.retry.initial_backoff * (2.0**attempt))
        return base * (1.0 - self.retry.jitter * self._jitter())

    async def _run(
        self, route: Route, operation: Callable[[Provider, float], Awaitable[T]], timeout: float | None
    ) -> Attempted[T]:
        budget = min(self.retry.total_timeout, timeout) if timeout else self.retry.total_timeout
        deadline = time.monotonic() + budget
        last: UpstreamError | None = None
        attempts = 0
        for provider in self.breakers.usable(route.providers):
            for attempt in range(self.retry.max_retries + 1):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise last or UpstreamTimeout(f"no answer for {route.alias} within {budget:g}s")
                per_try = min(provider.timeout, remaining)
                attempts += 1
                try:
                    async with asyncio.timeout(per_try):
                        value = await operation(provider, per_try)
                    self.breakers.succeeded(provider)
                    return Attempted(value=value, provider=provider, attempts=attempts)
                except TimeoutError:
                    last = UpstreamTimeout(f"{provider.label} timed out after {per_try:.3g}s")
                except UpstreamError as exc:
                    last = exc
                if not last.retryable:
                    if last.status_code in _SKIP_DEPLOYMENT:
                        log.warning(
                            "deployment skipped",
                            extra={"deployment": provider.label, "status": last.status_code},
                        )
                        break
                    raise last
                if attempt == self.retry.max_retries:
                    break
                if last.retry_after is not None:
                    if last.retry_after > self.retry.max_retry_after:
                        break
                    wait = last.retry_after
                else:
                    wait = self._backoff(attempt)
                if time.monotonic() + wait >= deadline:
                    break
                log.info(
                    "retrying",
                    extra={
                        "deployment": provider.label,
                        "status": last.status_code,
                        "wait_s": round(wait, 3),
                        "attempt": attempts,
                    },
                )
                await self._sleep(wait)
            self.breakers.failed(provider)
            if route.providers[-1] is not provider:
                log.warning(
                    "falling back",
                    extra={
                        "alias": route.alias,
                        "from": provider.label,
                        "status": last.status_code if last else None,
                    },
                )
        assert last is not None
        raise last

    async def complete(self, alias: str, body: dict[str, Any], *, timeout: float | None = None) -> Attempted[Answer]:
        async def call(provider: Provider, per_try: float) -> Answer:
            return await provider.complete(body, timeout=per_try)

        return await self._run(self.route(alias), call, timeout)

    async def embed(self, alias: str, body: dict[str, Any], *, timeout: float | None = None) -> Attempted[Answer]:
        async def call(provider: Provider, per_try: float) -> Answer:
            return await provider.embed(body, timeout=per_try)

        return await self._run(self.route(alias), call, timeout)

    async def stream(
        self, alias: str, body: dict[str, Any], *, timeout: float | None = None
    ) -> Attempted[OpenedStream]:
        async def open_stream(provider: Provider, per_try: float) -> OpenedStream:
            events = provider.stream(body, timeout=per_try)
            try:
                first = await anext(events)
            except BaseException:
                await _close(events)
                raise
            return OpenedStream(first=first, rest=events)

        return await self._run(self.route(alias), open_stream, timeout)


async def _close(events: AsyncIterator[bytes]) -> None:
    closer = getattr(events, "aclose", None)
    if closer is not None:
        await closer()
