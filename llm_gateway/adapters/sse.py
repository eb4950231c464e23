"""Server-sent events in OpenAI's chat streaming dialect.

Upstream bytes arrive in arbitrary pieces; ``iter_events`` regroups them into whole events so
that usage chunks and in-band errors (``data: {"error": ...}`` inside a 200 stream) can be
recognised without parsing every content delta. Only events that may carry usage or an error
are split out and decoded; the rest pass on as the blobs they arrived in.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from llm_gateway.errors import UpstreamError, UpstreamUnavailable
from llm_gateway.providers.base import Usage

__all__ = [
    "DONE",
    "encode_event",
    "error_event",
    "event_usage",
    "is_done",
    "is_usage_only",
    "iter_events",
    "split_events",
    "with_usage_cost",
]

DONE = b"data: [DONE]\n\n"
_USAGE_MARK = b'"usage":{'
_USAGE_MARK_SPACED = b'"usage": {'


def encode_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def error_event(error: UpstreamError | Exception) -> bytes:
    """The in-band error OpenAI sends when a stream fails after it started."""
    if isinstance(error, UpstreamError):
        detail = error.body()["error"]
    else:
        detail = {"message": str(error), "type": "server_error", "param": None, "code": None}
    return encode_event({"error": detail})


def is_done(event: bytes) -> bool:
    return event.startswith(b"data: [DONE]")


def _data(event: bytes) -> bytes:
    lines = [line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines)


def event_usage(event: bytes) -> Usage | None:
    """Usage carried by a chunk, if any (only the final usage chunk has it)."""
    if _USAGE_MARK not in event and _USAGE_MARK_SPACED not in event:
        return None
    try:
        payload = json.loads(_data(event))
    except ValueError:
        return None
    return Usage.from_openai(payload.get("usage")) if isinstance(payload, dict) else None


def is_usage_only(event: bytes) -> bool:
    """The extra chunk sent for ``stream_options.include_usage``: usage and no choices."""
    return (b'"choices":[]' in event or b'"choices": []' in event) and event_usage(event) is not None


def with_usage_cost(event: bytes, cost_usd: float) -> bytes:
    """A usage chunk with ``cost_usd`` added to its usage object (the chunk unchanged if it is not JSON)."""
    try:
        payload = json.loads(_data(event))
    except ValueError:
        return event
    if not isinstance(payload, dict) or not isinstance(payload.get("usage"), dict):
        return event
    payload["usage"]["cost_usd"] = cost_usd
    return encode_event(payload)


def _check_error(event: bytes) -> None:
    data = _data(event)
    if not data.startswith(b'{"error"') and not data.startswith(b'{ "error"'):
        return
    try:
        detail = json.loads(data)["error"]
    except (ValueError, KeyError, TypeError):
        detail = {}
    message = detail.get("message") if isinstance(detail, dict) else None
    raise UpstreamError(
        f"upstream stream failed: {message or 'error event'}",
        status_code=502,
        error_type=str(detail.get("type") or "upstream_error") if isinstance(detail, dict) else "upstream_error",
    )


def split_events(blob: bytes) -> list[bytes]:
    """The events in a blob of whole events."""
    return [part + b"\n\n" for part in blob.split(b"\n\n") if part.strip()]


async def iter_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Regroup raw bytes into blobs of whole SSE events, one blob per arrival.

    Each blob holds every complete event that arrived in one network read, so the relay writes
    once per read instead of once per event. Raises on in-band errors and on a stream cut
    before ``[DONE]``; keepalive comments are dropped.
    """
    buffer = b""
    async for chunk in chunks:
        buffer += chunk.replace(b"\r\n", b"\n") if b"\r" in chunk else chunk
        end = buffer.rfind(b"\n\n")
        if end < 0:
            continue
        blob, buffer = buffer[: end + 2], buffer[end + 2 :]
        if b":" in blob[:1] or b"\n:" in blob or b"\n\n\n" in blob:
            blob = b"".join(e for e in split_events(blob) if not e.startswith(b":"))
        if b'"error"' in blob:
            events = split_events(blob)
            for index, event in enumerate(events):
                try:
                    _check_error(event)
                except UpstreamError:
                    if index:
                        yield b"".join(events[:index])  # what came before the error still goes out
                    raise
        done = blob.find(DONE)
        if done >= 0:
            yield blob[: done + len(DONE)]
            return
        if blob:
            yield blob
    raise UpstreamUnavailable("upstream stream ended before [DONE]")
