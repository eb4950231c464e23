"""How the CLI reads a run's event stream: resuming by id, and when it gives the stream up for polls.

The server here is a scripted transport, one answer per request, so each case is exact; the real
server is followed over sockets in test_run_streaming.py.
"""

from __future__ import annotations

import httpx
import pytest

from toolmesh_cli.errors import ApiConnectionError, ApiError
from toolmesh_cli.run_stream import MAX_STREAM_FAILURES, StreamUnavailable, stream_run_events

STARTED = b'id: 1\ndata: {"type":"RUN_STARTED","threadId":"r","runId":"r"}\n\n'
TEXT = b'id: 2\ndata: {"type":"TEXT_MESSAGE_CONTENT","messageId":"m","delta":"hi"}\n\n'
PAUSED = b'id: 3\ndata: {"type":"RUN_FINISHED","threadId":"r","runId":"r","outcome":{"type":"interrupt"}}\n\n'
FINISHED = b'id: 4\ndata: {"type":"RUN_FINISHED","threadId":"r","runId":"r"}\n\n'
UNAVAILABLE = b'data: {"type":"CUSTOM","name":"toolmesh.events_unavailable","value":{"reason":"down"}}\n\n'


def _sse(body: bytes) -> httpx.Response:
    return httpx.Response(200, content=b"retry: 10\n\n" + body, headers={"content-type": "text/event-stream"})


def _follow(*answers: httpx.Response) -> tuple[list[int | None], list[str | None]]:
    asked: list[str | None] = []
    queue = list(answers)

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.headers.get("last-event-id"))
        return queue.pop(0)

    def error_of(response: httpx.Response) -> ApiError:
        return ApiError(response.status_code, response.text)

    with httpx.Client(base_url="http://api.test", transport=httpx.MockTransport(answer)) as http:
        events = stream_run_events(http, "/api/runs/r/events", error_of=error_of, sleep=lambda _: None)
        return [event.id for event in events], asked


def test_a_stream_that_ends_early_is_resumed_after_the_last_event_until_the_run_ends() -> None:
    ids, asked = _follow(_sse(STARTED + TEXT), _sse(b""), _sse(PAUSED + FINISHED))
    assert ids == [1, 2, 3, 4]  # the pause is not the end
    assert asked == [None, "2", "2"]


def test_a_dropped_connection_is_resumed_and_counted_only_while_it_keeps_failing() -> None:
    ids, asked = _follow(httpx.Response(503), _sse(STARTED), httpx.Response(502), _sse(FINISHED))
    assert ids == [1, 4] and asked == [None, None, "1", "1"]
    with pytest.raises(ApiConnectionError, match="failed"):
        _follow(*[httpx.Response(503)] * MAX_STREAM_FAILURES)


def test_a_server_without_the_stream_or_with_its_channel_down_is_polled_instead() -> None:
    with pytest.raises(StreamUnavailable, match="404"):
        _follow(httpx.Response(404, json={"error": {"message": "live events are off"}}))
    with pytest.raises(StreamUnavailable, match="event stream"):
        _follow(httpx.Response(200, json={"not": "a stream"}))
    with pytest.raises(StreamUnavailable, match="unavailable"):
        _follow(_sse(STARTED + UNAVAILABLE))
    with pytest.raises(ApiError):
        _follow(httpx.Response(401, json={"error": "no key"}))
