"""Providers that answer inside the gateway (offline, scripted): shared plumbing.

They produce a ``LocalAnswer`` and let the adapters render it as a completion or a stream, so
streams from them look exactly like an upstream's. Embeddings are a deterministic hashed
bag of words: good enough for tests and demos of similarity, and clearly not a real model.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from abc import abstractmethod
from collections.abc import AsyncIterator
from typing import Any

from llm_gateway.adapters.completions import LocalAnswer, completion_body, completion_events, estimate_tokens
from llm_gateway.errors import InvalidRequest
from llm_gateway.providers.base import Answer, Provider, Usage

__all__ = ["EMBEDDING_DIMENSIONS", "LocalProvider", "hashed_embedding"]

EMBEDDING_DIMENSIONS = 64


def hashed_embedding(text: str, dimensions: int = EMBEDDING_DIMENSIONS) -> list[float]:
    """A unit vector from hashed words: equal texts are equal, shared words make texts closer."""
    vector = [0.0] * dimensions
    for word in re.findall(r"\w+", text.lower()) or [text]:
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        slot = int.from_bytes(digest[:4], "big") % dimensions
        vector[slot] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [round(v / norm, 6) for v in vector]


class LocalProvider(Provider):
    """Base of providers whose answers are computed here rather than fetched."""

    embedding_model = "offline-embedding"

    @abstractmethod
    async def local_answer(self, body: dict[str, Any]) -> LocalAnswer:
        """The answer to one chat completion request."""

    async def complete(self, body: dict[str, Any], *, timeout: float) -> Answer:
        local = await self.local_answer(body)
        payload = completion_body(local, body, created=int(time.time()))
        return Answer(body=json.dumps(payload, separators=(",", ":")).encode(), usage=local.usage)

    async def stream(self, body: dict[str, Any], *, timeout: float) -> AsyncIterator[bytes]:
        local = await self.local_answer(body)
        for event in completion_events(local, body, created=int(time.time())):
            yield event

    async def embed(self, body: dict[str, Any], *, timeout: float) -> Answer:
        raw = body.get("input")
        inputs = [raw] if isinstance(raw, str) else raw
        if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) for i in inputs):
            raise InvalidRequest(
                "this model embeds text only: 'input' must be a string or a list of strings", param="input"
            )
        data = [
            {"object": "embedding", "index": i, "embedding": hashed_embedding(text)} for i, text in enumerate(inputs)
        ]
        tokens = sum(estimate_tokens(text) for text in inputs)
        payload = {
            "object": "list",
            "data": data,
            "model": self.embedding_model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return Answer(
            body=json.dumps(payload, separators=(",", ":")).encode(),
            usage=Usage(prompt_tokens=tokens, estimated=True),
        )
