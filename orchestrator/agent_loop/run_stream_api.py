"""``GET /api/runs/{id}/events``: a run's live events as Server-Sent Events, in the AG-UI protocol.

The route takes the ASGI request and answers with a streamed response, the model of the Azure
Functions HTTP streams extension (``azurefunctions-extensions-http-fastapi``); the local host
serves such functions the same way. Everything it needs is the durable client and the event
channel, so the instance that serves a stream need not be the one whose activities publish.

``Last-Event-ID`` (sent by a reconnecting EventSource) or ``?after=`` resumes after that event;
a finished run replays what is kept and the stream closes after its closing event.

AG-UI clients (``HttpAgent``) POST a ``RunAgentInput`` to the same path: its ``threadId`` is the
run's id, and its ``resume`` entries answer the run's interrupts (a ``resolved`` entry approves
unless its payload says ``{"approve": false}``, a ``cancelled`` one denies), then the stream follows.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import azure.durable_functions as df
import azure.functions as func
import orjson
from ag_ui.core import RunAgentInput
from azurefunctions.extensions.http.fastapi import JSONResponse, Request, Response, StreamingResponse
from pydantic import ValidationError

from run_events import ChannelUnavailable, EventChannel, run_error, run_finished, sse_frames

from .errors import failure_message
from .http_responses import MAX_BODY_BYTES
from .live_events import event_channel, now_ms
from .run_control import FINISHED, RunControlError, decide_approval, find_run
from .settings import get_settings

__all__ = ["bp", "closing_event"]

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)

MAX_EVENT_ID = 2**62
_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _error(status: int, message: str, field: str | None = None) -> Response:
    return JSONResponse({"error": {"message": message, "field": field}}, status_code=status)


def _run_id(req: Request) -> str:
    """The run id from the raw path, decoded once (Azure may not hand the route parameters to ASGI requests)."""
    raw = req.scope.get("raw_path")
    path = raw.decode("latin-1").split("?", 1)[0] if isinstance(raw, bytes) else req.url.path
    marker = "/runs/"
    start = path.find(marker) + len(marker)
    return unquote(path[start : path.rfind("/events")])


def _after(req: Request) -> tuple[int | None, str]:
    """The id to resume after: ``Last-Event-ID`` first (a reconnecting EventSource), else ``after``.

    Both are checked when both are given: a bad one is refused even where the other wins.
    """
    found: list[int] = []
    for field, value in (("Last-Event-ID", req.headers.get("last-event-id")), ("after", req.query_params.get("after"))):
        if value is None:
            continue
        text = value.strip()
        if not text.isdigit() or not text.isascii() or int(text) > MAX_EVENT_ID:
            return None, field
        found.append(int(text))
    return (found[0] if found else 0), ""


def closing_event(status: df.models.DurableOrchestrationStatus) -> dict[str, Any] | None:
    """The closing event of a run that ended without publishing one (None while it runs)."""
    state = status.runtime_status.value if status.runtime_status else None
    if state not in FINISHED:
        return None
    at = now_ms()
    if state == "Failed":
        return run_error(failure_message(str(status.output)), at, code="run_failed")
    report = status.output if isinstance(status.output, dict) else {}
    result = {key: report.get(key) for key in ("outcome", "stop_reason", "summary")}
    cancelled = state in ("Terminated", "Canceled") or report.get("outcome") == "cancelled"
    return run_finished(str(status.instance_id), at, result=result, cancelled=cancelled)


@bp.route(route="api/runs/{run_id}/events", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def run_events(req: Request, client: df.DurableOrchestrationClient) -> Response:
    """Follow a run: its events since ``Last-Event-ID`` / ``after``, then live until it ends."""
    return await _follow(req, client, _run_id(req))


@bp.route(route="api/runs/{run_id}/events", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def run_events_agui(req: Request, client: df.DurableOrchestrationClient) -> Response:
    """Follow a run as an AG-UI agent: a ``RunAgentInput`` whose ``resume`` entries answer its interrupts."""
    run_id = _run_id(req)
    raw = await req.body()
    if len(raw) > MAX_BODY_BYTES:
        return _error(400, f"the request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        given = RunAgentInput.model_validate(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        return _error(400, f"the body is not an AG-UI RunAgentInput: {str(exc)[:500]}")
    if given.thread_id != run_id:
        return _error(400, f"threadId must be the run's id {run_id!r}", "threadId")
    for entry in given.resume or []:
        answer = entry.payload if isinstance(entry.payload, dict) else {}
        approve = entry.status == "resolved" and answer.get("approve", True) is True
        try:
            await decide_approval(
                client, run_id, entry.interrupt_id, approve, answer.get("comment", ""), answer.get("input")
            )
        except RunControlError as exc:
            return _error(exc.status, exc.message, exc.field and f"resume.{exc.field}")
    return await _follow(req, client, run_id)


async def _has_stream(channel: EventChannel, run_id: str) -> bool:
    """Whether the run has published events: then it exists (a purge deletes its stream), and the
    status lookup, a request to the durable API per watcher, is not needed to tell."""
    try:
        return await channel.first_id(run_id) is not None
    except ChannelUnavailable:
        return False  # the stream itself will say so; the run may still exist


async def _follow(req: Request, client: df.DurableOrchestrationClient, run_id: str) -> Response:
    after, field = _after(req)
    if after is None:
        return _error(400, f"{field}: the id of an event of this run (a non-negative integer)", field)
    channel = event_channel()
    if channel is None:
        return _error(404, "live events are off in this app (TOOLMESH_EVENTS=off)")
    if not await _has_stream(channel, run_id) and await find_run(client, run_id) is None:
        return _error(404, f"no run with id {run_id!r}")

    async def closing() -> dict[str, Any] | None:
        status = await client.get_status(run_id)
        return closing_event(status) if status and status.instance_id else None

    frames = sse_frames(channel, run_id, after, keepalive=get_settings().events_keepalive_seconds, closing=closing)
    return StreamingResponse(frames, media_type="text/event-stream", headers=_STREAM_HEADERS)
