"""What every provider offers the router: a whole answer, a stream of SSE events, embeddings.

Providers speak OpenAI's wire format on both sides, so an upstream answer passes through as
the bytes it arrived in; only usage is read out of it. Streams are iterators of complete SSE
events (``data: ...\\n\\n``); the first event arriving is what lets the router commit to a
deployment, so an error before it can still fall back to the next one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

__all__ = ["Answer", "Price", "Provider", "Usage"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def from_openai(cls, usage: Any) -> Usage | None:
        if not isinstance(usage, dict):
            return None
        prompt = usage.get("prompt_tokens")
        completion = usage.get("completion_tokens", 0)
        if not isinstance(prompt, int) or not isinstance(completion, int):
            return None
        return cls(prompt_tokens=prompt, completion_tokens=completion)


@dataclass(frozen=True, kw_only=True, slots=True)
class Price:
    """What a deployment charges, in USD per million tokens (from the config; providers never say)."""

    input_per_million: float
    output_per_million: float

    def cost(self, usage: Usage) -> float:
        return (usage.prompt_tokens * self.input_per_million + usage.completion_tokens * self.output_per_million) / 1e6


@dataclass(frozen=True, kw_only=True, slots=True)
class Answer:
    """A complete (non-streamed) response body, ready to send, and its usage."""

    body: bytes
    usage: Usage | None


class Provider(ABC):
    """One deployment: a model at a provider, with its own client and credentials."""

    kind: str = "abstract"
    offline: bool = False

    def __init__(self, *, label: str, timeout: float) -> None:
        self.label = label
        self.timeout = timeout
        self.price: Price | None = None

    @abstractmethod
    async def complete(self, body: dict[str, Any], *, timeout: float) -> Answer:
        """Answer a chat completion request (``body`` without ``stream``)."""

    @abstractmethod
    def stream(self, body: dict[str, Any], *, timeout: float) -> AsyncIterator[bytes]:
        """Stream a chat completion as SSE events; raise ``UpstreamError`` on any failure."""

    @abstractmethod
    async def embed(self, body: dict[str, Any], *, timeout: float) -> Answer:
        """Answer an embeddings request."""

    async def ready(self) -> str:
        """A short readiness note for /readyz ("ok" when usable)."""
        return "ok"

    async def aclose(self) -> None:  # noqa: B027 - most providers hold nothing to release
        """Release clients and connections."""
