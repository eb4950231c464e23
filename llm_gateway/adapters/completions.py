"""Build OpenAI chat completions and stream chunks from answers made inside the gateway.

The offline and scripted providers decide *what* to say; this module says it in exactly the
shape an upstream would: the same ids, finish reasons, tool-call deltas (``index`` on every
delta, ``id`` and name only on the first) and the usage chunk, so clients cannot tell the
difference except by the labels the providers choose.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from llm_gateway.adapters.sse import DONE, encode_event
from llm_gateway.providers.base import Usage

__all__ = ["LocalAnswer", "ToolCall", "completion_body", "completion_events", "estimate_tokens"]

_CONTENT_PIECE = 24


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True, kw_only=True, slots=True)
class LocalAnswer:
    model: str
    fingerprint: str
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_calls else "stop"


def estimate_tokens(value: Any) -> int:
    """A cheap token estimate (about four characters per token) for providers without a tokenizer."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
    return max(1, (len(text) + 3) // 4)


def _completion_id(answer: LocalAnswer, request: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()
    return f"chatcmpl-{answer.model}-{digest[:20]}"


def _message(answer: LocalAnswer) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.content, "refusal": None}
    if answer.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in answer.tool_calls
        ]
    return message


def _usage(answer: LocalAnswer) -> dict[str, int]:
    return {
        "prompt_tokens": answer.usage.prompt_tokens,
        "completion_tokens": answer.usage.completion_tokens,
        "total_tokens": answer.usage.total_tokens,
    }


def completion_body(answer: LocalAnswer, request: dict[str, Any], *, created: int) -> dict[str, Any]:
    return {
        "id": _completion_id(answer, request),
        "object": "chat.completion",
        "created": created,
        "model": answer.model,
        "system_fingerprint": answer.fingerprint,
        "choices": [{"index": 0, "message": _message(answer), "logprobs": None, "finish_reason": answer.finish_reason}],
        "usage": _usage(answer),
    }


def completion_events(answer: LocalAnswer, request: dict[str, Any], *, created: int) -> Iterator[bytes]:
    """The answer as SSE chunks, ending with the usage chunk and ``[DONE]``."""
    base = {
        "id": _completion_id(answer, request),
        "object": "chat.completion.chunk",
        "created": created,
        "model": answer.model,
        "system_fingerprint": answer.fingerprint,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return encode_event(
            {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        )

    yield chunk({"role": "assistant", "content": "" if answer.content is not None else None})
    text = answer.content or ""
    for start in range(0, len(text), _CONTENT_PIECE):
        yield chunk({"content": text[start : start + _CONTENT_PIECE]})
    for index, call in enumerate(answer.tool_calls):
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": ""},
                    }
                ]
            }
        )
        arguments = call.arguments
        for start in range(0, len(arguments), _CONTENT_PIECE):
            piece = arguments[start : start + _CONTENT_PIECE]
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, answer.finish_reason)
    yield encode_event({**base, "choices": [], "usage": _usage(answer)})
    yield DONE
