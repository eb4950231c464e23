"""A plain Server-Sent Events reader for tests: what a browser's EventSource would see, over a real socket."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True)
class SseEvent:
    id: int | None
    data: dict[str, Any]


@dataclass
class SseReading:
    """What one watcher received; ``closed`` is True when the server ended the stream."""

    events: list[SseEvent] = field(default_factory=list)
    comments: int = 0
    closed: bool = False
    status: int | None = None
    error: BaseException | None = None

    @property
    def last_id(self) -> int | None:
        ids = [e.id for e in self.events if e.id is not None]
        return ids[-1] if ids else None


def read_events(
    url: str,
    key: str,
    *,
    last_event_id: int | None = None,
    stop: Callable[[SseEvent], bool] | None = None,
    on_event: Callable[[SseEvent], None] | None = None,
    timeout: float = 120.0,
    into: SseReading | None = None,
) -> SseReading:
    """Read ``url`` until the server closes it or ``stop`` says so (then the client hangs up).

    ``into`` is filled as events arrive (another thread may look at it meanwhile).
    """
    reading = into if into is not None else SseReading()
    headers = {"x-functions-key": key, "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    with httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0)) as client:
        with client.stream("GET", url, headers=headers) as response:
            reading.status = response.status_code
            if response.status_code != 200:
                response.read()
                return reading
            event_id: int | None = None
            data: list[str] = []
            for line in response.iter_lines():
                if line.startswith(":"):
                    reading.comments += 1
                elif line.startswith("id:"):
                    event_id = int(line[3:].strip())
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif line == "" and data:
                    event = SseEvent(event_id, json.loads("\n".join(data)))
                    event_id, data = None, []
                    reading.events.append(event)
                    if on_event is not None:
                        on_event(event)
                    if stop is not None and stop(event):
                        return reading
            reading.closed = True
    return reading


def read_in_thread(url: str, key: str, **options: Any) -> tuple[threading.Thread, SseReading]:
    """``read_events`` on a thread; join the thread, then look at the reading."""
    holder = SseReading()

    def work() -> None:
        try:
            read_events(url, key, into=holder, **options)
        except BaseException as exc:  # noqa: BLE001 - the test asserts on it
            holder.error = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, holder


def model_texts(url: str, key: str) -> list[str]:
    """A finished run's model texts as its event stream holds them, one ``name: text`` each, in order."""
    reading = read_events(url, key)
    assert reading.closed, reading
    texts: dict[str, str] = {}
    for event in reading.events:
        data = event.data
        if data["type"] == "TEXT_MESSAGE_START":
            texts[data["messageId"]] = f"{data.get('name') or 'model'}: "
        elif data["type"] == "TEXT_MESSAGE_CONTENT":
            texts[data["messageId"]] += data["delta"]
    return list(texts.values())
