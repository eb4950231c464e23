"""A FastAPI service that answers every request with the request itself, for round-trip tests.

It serves the fixture spec `fixtures/echo.yaml` as its /openapi.json, so the engine can
load a running service's spec exactly as it would load a real tool's.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

SPEC = yaml.safe_load((Path(__file__).parent / "fixtures" / "echo.yaml").read_text())

app = FastAPI(openapi_url=None)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/openapi.json")
async def openapi() -> JSONResponse:
    return JSONResponse(SPEC)


@app.get("/status/{code}")
async def status(code: int) -> Response:
    return PlainTextResponse(f"status {code}", status_code=code)


@app.get("/redirect/out")
async def redirect_out() -> Response:
    return RedirectResponse("http://example.com/steal", status_code=302)


@app.get("/redirect/in")
async def redirect_in() -> Response:
    return RedirectResponse("/public?from=redirect", status_code=302)


@app.get("/slow")
async def slow() -> dict[str, str]:
    await asyncio.sleep(5)
    return {"status": "late"}


@app.get("/big")
async def big() -> Response:
    return PlainTextResponse("x" * 50_000)


@app.get("/set-cookie")
async def set_cookie() -> Response:
    response = JSONResponse({"set": "session"})
    response.set_cookie("session", "from-one-call", path="/")
    return response


@app.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def echo(request: Request, rest: str) -> dict[str, Any]:
    raw = await request.body()
    try:
        body: str = raw.decode()
    except UnicodeDecodeError:
        body = "base64:" + base64.b64encode(raw).decode()
    return {
        "method": request.method,
        "raw_path": request.scope["raw_path"].decode(),
        "query": request.scope["query_string"].decode(),
        "headers": {k.decode().lower(): v.decode() for k, v in request.scope["headers"]},
        "header_lines": [[k.decode().lower(), v.decode()] for k, v in request.scope["headers"]],
        "body": body,
    }
