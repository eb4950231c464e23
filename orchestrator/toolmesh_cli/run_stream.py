"""A run's live events for the CLI: ``GET /api/runs/{id}/events`` (Server-Sent Events, AG-UI JSON).

The stream is read as a browser's EventSource reads it: every event carries its per-run id, and
a connection that drops (a host restart, a proxy, a server that answers in bounded windows) is
opened again with ``Last-Event-ID``, so each event arrives exactly once. The stream is done after
the run's closing event (``RUN_ERROR``, or ``RUN_FINISHED`` that is not an approval's pause).

A server without the route (an older app, live events turned off) or whose channel is down makes
``StreamUnavailable``: the caller follows by polling instead.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import SSEError, connect_sse

from toolmesh_cli.errors import ApiConnectionError, ApiError

__all__ = ["MAX_STREAM_FAILURES", "StreamUnavailable", "StreamedEvent", "is_closing", "stream_run_events"]

MAX_STREAM_FAILURES = 10
"""Consecutive connections that fail (refused, cut before any event) before giving up."""

_READ_TIMEOUT = 90.0
"""Longer than any keep-alive interval the server may use (at most 300 s is allowed, 15 s by default)."""

_DEFAULT_RETRY_SECONDS = 2.0
"""Pause before reconnecting until the server says otherwise (its ``retry:`` field)."""


class StreamUnavailable(Exception):
    """The run's event stream cannot be followed here; follow by polling instead."""


@dataclass(frozen=True, kw_only=True)
class StreamedEvent:
    """One AG-UI event of the run (``id`` None: a notice of the server's, not an event of the run)."""

    id: int | None
    data: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.data.get("type") or "")


def is_closing(event: dict[str, Any]) -> bool:
    """Whether ``event`` ends the run's stream: ``RUN_ERROR``, or ``RUN_FINISHED`` that is no pause."""
    outcome = event.get("outcome")
    paused = isinstance(outcome, dict) and outcome.get("type") == "interrupt"
    return event.get("type") == "RUN_ERROR" or (event.get("type") == "RUN_FINISHED" and not paused)


def stream_run_events(
    http: httpx.Client,
    path: str,
    *,
    after: int = 0,
    error_of: Callable[[httpx.Response], ApiError],
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[StreamedEvent]:
    """Yield the run's events after ``after`` until its closing event, reconnecting by id.

    Raises ``StreamUnavailable`` when the server has no stream to give (4xx other than auth, a
    body that is not an event stream, the channel down), ``ApiError`` for a refused key, and
    ``ApiConnectionError`` when connecting fails ``MAX_STREAM_FAILURES`` times in a row.
    ``error_of`` turns a refusal into the API's own error.
    """
    last, failures, retry = after, 0, _DEFAULT_RETRY_SECONDS
    timeout = httpx.Timeout(10.0, read=_READ_TIMEOUT)
    while True:
        headers = {"accept": "text/event-stream", "cache-control": "no-cache"}
        if last:
            headers["last-event-id"] = str(last)
        try:
            with connect_sse(http, "GET", path, headers=headers, timeout=timeout) as source:
                response = source.response
                if response.status_code >= 400:
                    response.read()
                    refusal = error_of(response)
                    if response.status_code >= 500:
                        raise httpx.HTTPStatusError(str(refusal), request=response.request, response=response)
                    if response.status_code in (401, 403):
                        raise refusal
                    raise StreamUnavailable(str(refusal))
                failures = 0
                for message in source.iter_sse():
                    if message.retry is not None:
                        retry = message.retry / 1000
                    if not message.data:
                        continue
                    event = json.loads(message.data)
                    if not isinstance(event, dict):
                        continue
                    fresh = message.id.isdigit() and int(message.id) > last
                    if fresh:
                        last = int(message.id)
                    elif event.get("name") == "toolmesh.events_unavailable":
                        raise StreamUnavailable(f"the run's events are unavailable: {event.get('value')}")
                    yield StreamedEvent(id=last if fresh else None, data=event)
                    if fresh and is_closing(event):
                        return
        except SSEError as exc:  # answered, but not with an event stream
            raise StreamUnavailable(f"the events route did not answer an event stream ({exc})") from exc
        except httpx.HTTPStatusError as exc:  # a 5xx: the app is restarting, or a proxy in front of it
            failures += 1
            reason: str = str(exc)
        except httpx.TransportError as exc:
            failures += 1
            reason = f"{type(exc).__name__}: {exc}"
        else:
            sleep(retry)  # a bounded answer (a host that cannot stream) or a restart: resume at once
            continue
        if failures >= MAX_STREAM_FAILURES:
            raise ApiConnectionError(f"the run's event stream failed {failures} times in a row ({reason})")
        sleep(max(retry, _DEFAULT_RETRY_SECONDS))
