"""ASGI middleware that guards every request: a body size limit, strict JSON, and an access log.

The size limit runs before any parsing, on the declared ``Content-Length`` and on the
bytes actually received (a chunked upload cannot sneak past it), and answers 413 with
a JSON ``detail`` like every other error of the service. Bodies are small by design,
so the limit buffers the body and hands it to the app in one piece.

A JSON body must then be strict JSON (RFC 8259): Python's parser also takes ``NaN`` and
``Infinity``, lone UTF-16 surrogates and nesting deeper than its own recursion limit, and each
of those failed later (storing, validating, or rendering the validation error) as a 500.
orjson refuses all of them while parsing, so such a body gets the 422 FastAPI gives any
malformed JSON before the app sees it.
"""

from __future__ import annotations

import json
import logging
import time

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AccessLogMiddleware", "BodySizeLimitMiddleware", "send_json"]


class BodySizeLimitMiddleware:
    """Refuse request bodies larger than ``max_bytes`` with 413."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                if not value.isdigit():
                    await send_json(send, 400, {"detail": "Content-Length header is not a number"})
                    return
                if int(value) > self.max_bytes:
                    await self._refuse(send)
                    return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = _json_problem(scope, body)
        if problem is not None:
            await send_json(send, 422, {"detail": [problem]})
            return
        await self.app(scope, _replay(body, receive), send)

    async def _refuse(self, send: Send) -> None:
        await send_json(send, 413, {"detail": f"request body is larger than the limit of {self.max_bytes} bytes"})


def _json_problem(scope: Scope, body: bytes) -> dict[str, object] | None:
    """Why a JSON request's body is not strict JSON, as FastAPI words a JSON decode error; None when it is."""
    if not body.strip():
        return None
    for name, value in scope.get("headers", []):
        if name == b"content-type" and b"json" in value.lower():
            try:
                orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                error = {"error": exc.msg}
                return {"type": "json_invalid", "loc": ["body", exc.pos], "msg": "JSON decode error", "ctx": error}
            return None
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the buffered body, then listens to the client again."""
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive_again


class AccessLogMiddleware:
    """Log each request to ``logger`` as JSON: method, path, status, duration. Nothing else."""

    def __init__(self, app: ASGIApp, *, logger: logging.Logger) -> None:
        self.app = app
        self.logger = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                },
            )


async def send_json(send: Send, status: int, payload: object, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer with a JSON body from inside a middleware, before the app runs."""
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
