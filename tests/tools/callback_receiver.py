"""A stand-in for the orchestrator's callback endpoint, for the mailbox tests.

It records every POST it gets (path, JSON body, Idempotency-Key) and serves them at
GET /received. With RECEIVER_FAIL_FIRST=n it answers the first n POSTs with 503, so
a test can watch the mailbox retry; a POST to a path ending in /refuse-409 or /refuse-410 gets
that status, as the orchestrator answers a callback it no longer takes.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()
_received: list[dict[str, Any]] = []
_failures_left = [int(os.environ.get("RECEIVER_FAIL_FIRST", "0"))]


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/received")
def received() -> list[dict[str, Any]]:
    return _received


@app.post("/{path:path}")
async def receive(path: str, request: Request) -> JSONResponse:
    for status in (409, 410):
        if path.endswith(f"/refuse-{status}"):
            return JSONResponse({"detail": "not waiting for this"}, status_code=status)
    if _failures_left[0] > 0:
        _failures_left[0] -= 1
        return JSONResponse({"detail": "try again later"}, status_code=503)
    _received.append(
        {
            "path": "/" + path,
            "json": await request.json(),
            "idempotency_key": request.headers.get("idempotency-key"),
        }
    )
    return JSONResponse({"ok": True}, status_code=202)
