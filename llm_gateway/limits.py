"""Per-key limits on requests and tokens per minute, over a sliding 60-second window.

A request is admitted if the key's requests in the last minute are under its RPM and its
tokens (counted as they are reported, plus this request's estimated prompt) are under its
TPM. Refusals carry the wait until the window frees up, sent as Retry-After.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from llm_gateway.config import LimitsConfig
from llm_gateway.errors import RateLimited
from llm_gateway.keys import ClientKey

__all__ = ["RateLimiter"]

WINDOW = 60.0


@dataclass(kw_only=True, slots=True)
class _Window:
    requests: deque[float] = field(default_factory=deque)
    tokens: deque[tuple[float, int]] = field(default_factory=deque)
    token_sum: int = 0

    def trim(self, now: float) -> None:
        horizon = now - WINDOW
        while self.requests and self.requests[0] <= horizon:
            self.requests.popleft()
        while self.tokens and self.tokens[0][0] <= horizon:
            self.token_sum -= self.tokens.popleft()[1]


class RateLimiter:
    def __init__(
        self,
        *,
        default: LimitsConfig,
        by_name: dict[str, LimitsConfig],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._default = default
        self._by_name = by_name
        self._clock = clock
        self._windows: dict[str, _Window] = {}

    def limits_for(self, key: ClientKey) -> tuple[int | None, int | None]:
        named = self._by_name.get(key.name)
        rpm = key.rpm or (named.rpm if named else None) or self._default.rpm
        tpm = key.tpm or (named.tpm if named else None) or self._default.tpm
        return rpm, tpm

    def admit(self, key: ClientKey, estimated_tokens: int) -> None:
        """Count one request for ``key`` or raise RateLimited."""
        rpm, tpm = self.limits_for(key)
        if rpm is None and tpm is None:
            return
        now = self._clock()
        window = self._windows.setdefault(key.name, _Window())
        window.trim(now)
        if rpm is not None and len(window.requests) >= rpm:
            wait = window.requests[0] + WINDOW - now
            raise RateLimited(
                f"Rate limit reached for key {key.name}: limit {rpm} requests per minute. "
                f"Please try again in {wait:.1f}s.",
                retry_after=wait,
                error_type="requests",
            )
        if tpm is not None and window.token_sum + estimated_tokens > tpm:
            wait = (window.tokens[0][0] + WINDOW - now) if window.tokens else WINDOW
            raise RateLimited(
                f"Rate limit reached for key {key.name}: limit {tpm} tokens per minute, used "
                f"{window.token_sum}, requested {estimated_tokens}. Please try again in {wait:.1f}s.",
                retry_after=wait,
                error_type="tokens",
            )
        window.requests.append(now)

    def record(self, key: ClientKey, tokens: int) -> None:
        """Count the tokens a finished request used."""
        if tokens <= 0:
            return
        if self.limits_for(key)[1] is None:
            return
        window = self._windows.setdefault(key.name, _Window())
        window.tokens.append((self._clock(), tokens))
        window.token_sum += tokens
