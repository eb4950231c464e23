"""A streaming response for SSE: notices a client leaving, and fills long silences with comments.

Under ASGI spec 2.3 (what uvicorn announces) Starlette's StreamingResponse starts an anyio task
group per response to listen for the disconnect; that costs about 60 µs per stream on this
kind of machine, more than the rest of the relay. Two plain asyncio tasks do the same job:
one streams, one waits for ``http.disconnect``; whichever finishes first cancels the other, so
an abandoned stream is closed upstream at once.

Keep-alive comments come from a third task that wakes once per ``keepalive`` seconds and writes
a comment only when nothing was written for that long. The relay itself only notes when it last
wrote, so a stream of many small events pays nothing per event for its keep-alive.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, Mapping

from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

__all__ = ["KEEPALIVE", "SSEResponse"]

KEEPALIVE = b": keepalive\n\n"


class SSEResponse(StreamingResponse):
    media_type = "text/event-stream"

    def __init__(
        self,
        content: AsyncIterable[bytes],
        *,
        keepalive: float = 0.0,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(
            content, status_code=status_code, headers=headers, media_type=media_type, background=background
        )
        self.keepalive = keepalive
        """Seconds of silence after which a comment is written (0: never)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        streamer = asyncio.ensure_future(self.stream_response(send))
        watcher = asyncio.ensure_future(self.listen_for_disconnect(receive))
        try:
            await asyncio.wait((streamer, watcher), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (streamer, watcher):
                if not task.done():
                    task.cancel()
            for task in (watcher, streamer):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.background is not None:
            await self.background()

    async def stream_response(self, send: Send) -> None:
        if self.keepalive <= 0:
            await super().stream_response(send)
            return
        loop = asyncio.get_running_loop()
        writing = asyncio.Lock()  # the body and the comments never interleave within a send
        last_write = loop.time()

        async def write(chunk: bytes) -> None:
            nonlocal last_write
            async with writing:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            last_write = loop.time()

        async def fill_silences() -> None:
            while True:
                await asyncio.sleep(max(0.0, last_write + self.keepalive - loop.time()))
                if loop.time() - last_write >= self.keepalive:
                    await write(KEEPALIVE)

        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        ticker = asyncio.ensure_future(fill_silences())
        try:
            async for chunk in self.body_iterator:
                await write(chunk.encode(self.charset) if isinstance(chunk, str) else bytes(chunk))
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        await send({"type": "http.response.body", "body": b"", "more_body": False})
