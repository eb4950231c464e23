"""``GET /api/runs/{id}/events``: a run's live events as Server-Sent Events, in the AG-UI protocol.

Everything a route needs is the durable client and the event channel, so the instance that serves
a watcher need not be the one whose activities publish. The routes come in two forms, registered
at import by ``TOOLMESH_EVENTS_HTTP_STREAMS``: one open stream per watcher (``run_stream_asgi``,
the HTTP streams form, which the local host serves), or a bounded answer at a time (here).

``Last-Event-ID`` (sent by a reconnecting EventSource) or ``?after=`` resumes after that event;
a finished run replays what is kept and the stream closes after its closing event.

AG-UI clients (``HttpAgent``) POST a ``RunAgentInput`` to the same path: its ``threadId`` is the
run's id, and its ``resume`` entries answer the run's interrupts (a ``resolved`` entry approves
unless its payload says ``{"approve": false}``, a ``cancelled`` one denies), then the stream follows.

Where the Functions host cannot stream a response (Azure, and Core Tools, unless HTTP streams are
on for the whole app, which changes every other route), ``TOOLMESH_EVENTS_HTTP_STREAMS=false``
registers them as plain ``func.HttpRequest`` functions: each request answers with the
events that come within a bounded window (``TOOLMESH_EVENTS_WINDOW``, less once events flow) and a
short ``retry:``, then ends. A browser's EventSource and the CLI reconnect by themselves with
``Last-Event-ID``, so a watcher still gets every event once, a request at a time. An AG-UI client
(POST) gets the events up to the run's next pause or end, within the longest window Azure allows.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import azure.durable_functions as df
import azure.functions as func
import orjson
from ag_ui.core import RunAgentInput
from pydantic import ValidationError

from run_events import ChannelUnavailable, EventChannel, run_error, run_finished, sse_frames

from .errors import failure_message
from .http_responses import MAX_BODY_BYTES, error_response
from .live_events import event_channel, now_ms
from .run_control import FINISHED, RunControlError, decide_approval, find_run
from .settings import Settings, get_settings

__all__ = ["STREAM_HEADERS", "Refused", "answer_interrupts", "bp", "closing_event", "follow_frames", "gather_window"]

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)

MAX_EVENT_ID = 2**62
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _after(last_event_id: str | None, after: str | None) -> tuple[int | None, str]:
    """The id to resume after: ``Last-Event-ID`` first (a reconnecting EventSource), else ``after``.

    Both are checked when both are given: a bad one is refused even where the other wins.
    """
    found: list[int] = []
    for field, value in (("Last-Event-ID", last_event_id), ("after", after)):
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


class Refused(Exception):
    """The request is refused before any event: the status, message and field of its error body."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


async def answer_interrupts(client: df.DurableOrchestrationClient, run_id: str, raw: bytes) -> None:
    """Check an AG-UI ``RunAgentInput`` for this run and send the decisions its ``resume`` entries carry."""
    if len(raw) > MAX_BODY_BYTES:
        raise Refused(400, f"the request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        given = RunAgentInput.model_validate(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        raise Refused(400, f"the body is not an AG-UI RunAgentInput: {str(exc)[:500]}") from None
    if given.thread_id != run_id:
        raise Refused(400, f"threadId must be the run's id {run_id!r}", "threadId")
    for entry in given.resume or []:
        answer = entry.payload if isinstance(entry.payload, dict) else {}
        approve = entry.status == "resolved" and answer.get("approve", True) is True
        try:
            await decide_approval(
                client, run_id, entry.interrupt_id, approve, answer.get("comment", ""), answer.get("input")
            )
        except RunControlError as exc:
            raise Refused(exc.status, exc.message, exc.field and f"resume.{exc.field}") from None


async def _has_stream(channel: EventChannel, run_id: str) -> bool:
    """Whether the run has published events: then it exists (a purge deletes its stream), and the
    status lookup, a request to the durable API per watcher, is not needed to tell."""
    try:
        return await channel.first_id(run_id) is not None
    except ChannelUnavailable:
        return False  # the stream itself will say so; the run may still exist


async def follow_frames(
    client: df.DurableOrchestrationClient,
    run_id: str,
    last_event_id: str | None,
    after_param: str | None,
    *,
    keepalive: float,
) -> AsyncIterator[bytes]:
    """The run's SSE frames after the id asked for; ``Refused`` when the request cannot be followed."""
    after, field = _after(last_event_id, after_param)
    if after is None:
        raise Refused(400, f"{field}: the id of an event of this run (a non-negative integer)", field)
    channel = event_channel()
    if channel is None:
        raise Refused(404, "live events are off in this app (TOOLMESH_EVENTS=off)")
    if not await _has_stream(channel, run_id) and await find_run(client, run_id) is None:
        raise Refused(404, f"no run with id {run_id!r}")

    async def closing() -> dict[str, Any] | None:
        status = await client.get_status(run_id)
        return closing_event(status) if status and status.instance_id else None

    return sse_frames(channel, run_id, after, keepalive=keepalive, closing=closing)


# ---------------------------------------------------------------- a bounded answer at a time


WINDOW_RETRY_MS = 250
"""How soon a client asks again after a bounded answer (the next events may already be there)."""
WINDOW_LINGER_SECONDS = 0.5
"""Once events come, how much longer an answer gathers more before it ends."""
WINDOW_TICK_SECONDS = 1.0
"""How often a waiting answer looks at its clock (and whether the run ended)."""
AGUI_WINDOW_SECONDS = 200.0
"""The longest an AG-UI answer waits for the run's next pause or end (Azure ends a response at 230 s)."""


async def gather_window(frames: AsyncIterator[bytes], *, window: float, until_pause: bool = False) -> bytes:
    """The SSE body of one bounded answer: the frames of ``frames`` that come within the window.

    It ends when the stream does (the run ended), ``window`` seconds after the start when nothing
    came, or ``WINDOW_LINGER_SECONDS`` after the first event; with ``until_pause`` (an AG-UI
    client, which does not reconnect) only at a ``RUN_FINISHED`` or ``RUN_ERROR``, or the window.
    The stream's own ``retry:`` is replaced by ``WINDOW_RETRY_MS``, and keep-alives are dropped.
    """
    started = time.monotonic()
    first_event: float | None = None
    body = [f"retry: {WINDOW_RETRY_MS}\n\n".encode()]
    try:
        async for frame in frames:
            now = time.monotonic()
            if frame.startswith((b"data:", b"id:")):
                body.append(frame)
                first_event = first_event if first_event is not None else now
                if until_pause and (b'"type":"RUN_FINISHED"' in frame or b'"type":"RUN_ERROR"' in frame):
                    break
            if now - started >= window:
                break
            if not until_pause and first_event is not None and now - first_event >= WINDOW_LINGER_SECONDS:
                break
    finally:
        await frames.aclose()  # type: ignore[attr-defined]
    return b"".join(body)


def _route_param(req: func.HttpRequest) -> str:
    return str(req.route_params.get("run_id") or "")


async def run_events_window(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """The run's events that come within the window after ``Last-Event-ID`` / ``after``; then it ends."""
    return await _answer_window(req, client, _route_param(req), until_pause=False)


async def run_events_agui_window(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """``run_events_agui`` a bounded answer at a time: the events up to the run's next pause or end."""
    run_id = _route_param(req)
    try:
        await answer_interrupts(client, run_id, req.get_body())
    except Refused as exc:
        return error_response(exc.status, exc.message, exc.field)
    return await _answer_window(req, client, run_id, until_pause=True)


async def _answer_window(
    req: func.HttpRequest, client: df.DurableOrchestrationClient, run_id: str, *, until_pause: bool
) -> func.HttpResponse:
    window = AGUI_WINDOW_SECONDS if until_pause else get_settings().events_window_seconds
    try:
        frames = await follow_frames(
            client, run_id, req.headers.get("last-event-id"), req.params.get("after"), keepalive=WINDOW_TICK_SECONDS
        )
    except Refused as exc:
        return error_response(exc.status, exc.message, exc.field)
    body = await gather_window(frames, window=window, until_pause=until_pause)
    return func.HttpResponse(body, status_code=200, mimetype="text/event-stream", headers=STREAM_HEADERS)


# Azure serves an HTTP-streams function only when the whole app is switched to HTTP streams, so the
# routes are registered in the form the host can serve (see the module's docstring).
_ROUTE = "api/runs/{run_id}/events"
# Importing the HTTP streams extension is itself what turns them on for the whole app in the Python
# worker (it tracks whether the module was imported), so it is imported only when asked for.
if Settings().events_http_streams:  # read once here, leaving get_settings() to be filled when first used
    from .run_stream_asgi import run_events, run_events_agui

    _get, _post = run_events, run_events_agui
else:
    _get, _post = run_events_window, run_events_agui_window
bp.route(route=_ROUTE, methods=["GET"])(bp.durable_client_input(client_name="client")(_get))
bp.route(route=_ROUTE, methods=["POST"])(bp.durable_client_input(client_name="client")(_post))
