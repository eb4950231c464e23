"""The events routes as one open stream: the HTTP streams form (``azurefunctions-extensions-http-fastapi``).

The route takes the ASGI request and answers with a streamed response; the local host serves such
functions the same way, and Azure does once the app runs with HTTP streams on. Importing this
module imports the extension, which by itself switches the Python worker to HTTP streams for every
route of the app: ``run_stream_api`` imports it only when ``TOOLMESH_EVENTS_HTTP_STREAMS`` is on.
"""

from __future__ import annotations

from urllib.parse import unquote

import azure.durable_functions as df
from azurefunctions.extensions.http.fastapi import JSONResponse, Request, Response, StreamingResponse

from .run_stream_api import STREAM_HEADERS, Refused, answer_interrupts, follow_frames
from .settings import get_settings

__all__ = ["run_events", "run_events_agui"]


def _error(status: int, message: str, field: str | None = None) -> Response:
    return JSONResponse({"error": {"message": message, "field": field}}, status_code=status)


def _run_id(req: Request) -> str:
    """The run id from the raw path, decoded once (Azure may not hand the route parameters to ASGI requests)."""
    raw = req.scope.get("raw_path")
    path = raw.decode("latin-1").split("?", 1)[0] if isinstance(raw, bytes) else req.url.path
    marker = "/runs/"
    start = path.find(marker) + len(marker)
    return unquote(path[start : path.rfind("/events")])


async def run_events(req: Request, client: df.DurableOrchestrationClient) -> Response:
    """Follow a run: its events since ``Last-Event-ID`` / ``after``, then live until it ends."""
    return await _stream(req, client, _run_id(req))


async def run_events_agui(req: Request, client: df.DurableOrchestrationClient) -> Response:
    """Follow a run as an AG-UI agent: a ``RunAgentInput`` whose ``resume`` entries answer its interrupts."""
    run_id = _run_id(req)
    try:
        await answer_interrupts(client, run_id, await req.body())
    except Refused as exc:
        return _error(exc.status, exc.message, exc.field)
    return await _stream(req, client, run_id)


async def _stream(req: Request, client: df.DurableOrchestrationClient, run_id: str) -> Response:
    keepalive = get_settings().events_keepalive_seconds
    try:
        frames = await follow_frames(
            client, run_id, req.headers.get("last-event-id"), req.query_params.get("after"), keepalive=keepalive
        )
    except Refused as exc:
        return _error(exc.status, exc.message, exc.field)
    return StreamingResponse(frames, media_type="text/event-stream", headers=STREAM_HEADERS)
