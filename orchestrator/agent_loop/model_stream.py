"""Reading a streamed chat completion: the same answer as a plain one, with deltas on the way.

The gateway relays the provider's ``chat.completion.chunk`` events as they come. Each network
read is parsed into whole events; their text and tool-call pieces go to a ``StepListener``
(which publishes them as AG-UI events, pieces that come close together in one append), and the pieces are put together
into the ``chat.completion`` body the plain request would have returned, so the model step's
result, and with it the run's history, does not depend on whether the step streamed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from run_events import Keyed, text_content, text_end, text_start, tool_call_args, tool_call_end, tool_call_start

from .live_events import now_ms

__all__ = ["BrokenStream", "NotACompletion", "StepEvents", "StepListener", "assemble_stream", "content_text"]


class BrokenStream(Exception):
    """The stream ended early or carried an error; the step is retried like a dropped connection."""


class NotACompletion(Exception):
    """An event of the stream is not a chat-completion chunk; the step fails, as a malformed plain answer does.

    Asking again would most likely get the same shape, so this is not retried.
    """


_NON_TEXT_PARTS = frozenset({"reasoning", "thinking", "image_url", "refusal"})


def content_text(content: Any) -> str | None:
    """The message text; a list of parts (``{"type": "text", "text": ...}`` or strings) is joined.

    Some OpenAI-compatible servers send parts where OpenAI sends a string, in whole answers and
    in stream deltas alike. TypeError when it is neither.
    """
    if content is None or isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise TypeError(f"content is a {type(content).__name__}, not text")
    texts: list[str] = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif not (isinstance(part, dict) and part.get("type") in _NON_TEXT_PARTS):
            raise TypeError(f"content part {part!r:.80} has no text")
    return "".join(texts)


class StepListener(Protocol):
    def text(self, delta: str) -> None: ...
    def tool(self, index: int, name: str | None, arguments: str) -> None: ...
    async def flush(self) -> None: ...
    async def close(self) -> None: ...


@dataclass
class _Call:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class _Answer:
    model: str | None = None
    content: list[str] | None = None
    calls: dict[int, _Call] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None

    def take(self, chunk: dict[str, Any], listener: StepListener) -> None:
        self.model = chunk.get("model") or self.model
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise NotACompletion("its choices are not a list")
        for choice in choices:
            if not isinstance(choice, dict):
                raise NotACompletion("a choice is not an object")
            if choice.get("index", 0) != 0:
                continue
            self.finish_reason = choice.get("finish_reason") or self.finish_reason
            delta = choice.get("delta") or {}
            if not isinstance(delta, dict):
                raise NotACompletion("a choice's delta is not an object")
            try:
                text = content_text(delta.get("content"))
            except TypeError as exc:
                raise NotACompletion(f"a delta's {exc}") from None
            if text is not None:
                if self.content is None:
                    self.content = []
                self.content.append(text)
                if text:
                    listener.text(text)
            pieces = delta.get("tool_calls") or []
            if not isinstance(pieces, list):
                raise NotACompletion("a delta's tool_calls are not a list")
            for piece in pieces:
                self._tool_piece(piece, listener)

    def _tool_piece(self, piece: Any, listener: StepListener) -> None:
        if not isinstance(piece, dict) or not isinstance(piece.get("function") or {}, dict):
            raise NotACompletion("a tool-call delta is not an object with a function")
        index = piece.get("index") or 0
        if not isinstance(index, int):
            raise NotACompletion("a tool-call delta's index is not a number")
        call = self.calls.setdefault(index, _Call())
        call.id = piece.get("id") or call.id
        function = piece.get("function") or {}
        name = function.get("name")
        if isinstance(name, str) and name:
            call.name += name
        arguments = function.get("arguments")
        arguments = arguments if isinstance(arguments, str) else ""
        call.arguments.append(arguments)
        listener.tool(index, name if isinstance(name, str) and name else None, arguments)

    def completion(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(self.content) if self.content is not None else None,
        }
        if self.calls:
            message["tool_calls"] = [
                {
                    "id": call.id or f"call_{index}",
                    "type": "function",
                    "function": {"name": call.name, "arguments": "".join(call.arguments)},
                }
                for index, call in sorted(self.calls.items())
            ]
        usage = self.usage or {}
        return {
            "object": "chat.completion",
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}],
            "usage": {k: v for k, v in usage.items() if k != "cost_usd"},
            "cost_usd": float(usage.get("cost_usd") or 0.0),
        }


async def assemble_stream(chunks: AsyncIterator[bytes], listener: StepListener) -> dict[str, Any]:
    """The completion a stream of SSE bytes adds up to.

    BrokenStream when it does not end with [DONE] or carries an error event; NotACompletion when
    an event is not a chat-completion chunk.
    """
    answer = _Answer()
    buffer = b""
    async for chunk in chunks:
        buffer += chunk.replace(b"\r\n", b"\n") if b"\r" in chunk else chunk
        end = buffer.rfind(b"\n\n")
        if end < 0:
            continue
        events, buffer = buffer[:end], buffer[end + 2 :]
        for event in events.split(b"\n\n"):
            data = b"\n".join(line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:"))
            if not data:
                continue  # a comment (keep-alive) or an empty event
            if data == b"[DONE]":
                await listener.flush()
                return answer.completion()
            try:
                payload = orjson.loads(data)
            except orjson.JSONDecodeError:
                raise NotACompletion("an event is not JSON") from None
            if not isinstance(payload, dict):
                raise NotACompletion("an event is not a JSON object")
            if isinstance(payload.get("error"), dict):
                message = str(payload["error"].get("message") or "error event")[:300]
                raise BrokenStream(f"the stream failed: {message}")
            answer.take(payload, listener)
        await listener.flush()
    raise BrokenStream("the stream ended before [DONE]")


COALESCE_SECONDS = 0.02
"""The default merge window (``TOOLMESH_EVENTS_MERGE_MS``): pieces that arrive within this long
of the last publish wait and go out together, so a fast model makes a few appends per step
rather than one per token, while a watcher still sees text at most this much later than it came."""
COALESCE_CHARS = 2000
"""Held text beyond this many characters is published at once."""


@dataclass
class _Pieces:
    """Consecutive text (or one tool call's argument) pieces, published as one delta event."""

    tool: bool
    target: str
    parts: list[str]
    at: int

    def event(self) -> Keyed:
        delta = "".join(self.parts)
        made = tool_call_args(self.target, delta, self.at) if self.tool else text_content(self.target, delta, self.at)
        return None, made


class StepEvents:
    """A model step's pieces as AG-UI events: one text message, and each tool call as it forms.

    ``call_id`` names tool call ``index`` for this execution of the step. Every attempt tells its
    message and its tool calls under ids of its own (the second attempt's end in ``.2``): AG-UI
    clients add a tool call's arguments to the call of that id they already hold, so a call told
    again under the same id would show the cut-off attempt's arguments followed by the new ones.
    ``told_calls`` keeps the ids the last attempt gave its calls, for their results to refer to.
    Events are held until ``flush``; a flush within ``coalesce`` seconds of the last publish
    leaves them for a timer that publishes everything held then, so consecutive text pieces
    become one delta. Publishes go out one at a time, in order.
    """

    def __init__(
        self,
        publish: Callable[[list[Keyed]], Awaitable[None]],
        message_id: str,
        call_id: Callable[[int], str],
        step: str,
        coalesce: float = COALESCE_SECONDS,
    ) -> None:
        self._publish = publish
        self._base_id = message_id
        self._message_id = message_id
        self._attempt = 1
        self._call_id = call_id
        self._step = step
        self._held: list[Keyed | _Pieces] = []
        self._held_chars = 0
        self._text_open = False
        self._text_done = False
        self._open_calls: dict[int, str] = {}
        self.told_calls: dict[int, str] = {}
        """The ids the last attempt that told anything gave its tool calls, by index."""
        self._sending = asyncio.Lock()
        self._coalesce = coalesce
        self._last_sent = -coalesce
        self._timer: asyncio.Task[None] | None = None

    def _close_text(self, at: int) -> None:
        if self._text_open:
            self._held.append((None, text_end(self._message_id, at)))
            self._text_open, self._text_done = False, True

    def _piece(self, tool: bool, target: str, delta: str, at: int) -> None:
        last = self._held[-1] if self._held else None
        if isinstance(last, _Pieces) and last.tool == tool and last.target == target:
            last.parts.append(delta)
        else:
            self._held.append(_Pieces(tool, target, [delta], at))
        self._held_chars += len(delta)

    def text(self, delta: str) -> None:
        at = now_ms()
        if not self._text_open:
            self._held.append((None, text_start(self._message_id, at, name=self._step)))
            self._text_open = True
        self._piece(False, self._message_id, delta, at)

    def tool(self, index: int, name: str | None, arguments: str) -> None:
        at = now_ms()
        call_id = self._open_calls.get(index)
        if call_id is None:
            if name is None:
                return  # arguments before the name: the call is not started yet (never seen in practice)
            self._close_text(at)
            call_id = self._call_id(index)
            if self._attempt > 1:
                call_id = f"{call_id}.{self._attempt}"
            self._open_calls[index] = call_id
            self._held.append((None, tool_call_start(call_id, name, at, parent_message_id=self._message_id)))
        if arguments:
            self._piece(True, call_id, arguments, at)

    async def flush(self) -> None:
        if not self._held:
            return
        wait = self._last_sent + self._coalesce - asyncio.get_running_loop().time()
        if wait <= 0 or self._held_chars >= COALESCE_CHARS:
            await self._send()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._send_later(wait))

    async def _send_later(self, wait: float) -> None:
        try:
            await asyncio.sleep(wait)
        except asyncio.CancelledError:
            return  # ``close`` sends what is held itself
        self._timer = None
        await self._send()

    async def _send(self) -> None:
        async with self._sending:
            if not self._held:
                return
            held, self._held, self._held_chars = self._held, [], 0
            self._last_sent = asyncio.get_running_loop().time()
            await self._publish([item.event() if isinstance(item, _Pieces) else item for item in held])

    async def close(self) -> None:
        """End what is open (also after a failed attempt, so the stream stays well formed).

        A retried attempt streams again as a new message with new tool-call ids (they get the
        attempt number).
        """
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        at = now_ms()
        self._close_text(at)
        told, self._open_calls = self._open_calls, {}
        for call_id in told.values():
            self._held.append((None, tool_call_end(call_id, at)))
        await self._send()
        if self._text_done or told:
            self.told_calls = told
            self._attempt += 1
            self._message_id = f"{self._base_id}.{self._attempt}"
            self._text_done = False
