"""A run's live events: AG-UI events in one ordered, resumable stream per run.

Activities (and the run API) publish; watchers read over Server-Sent Events. The stream is a side
channel: durable history never holds a streamed token, so replay is unchanged by it.

```
 publishers (activities, HTTP layer)        watchers (SSE, CLI, console, AG-UI clients)
        │ append(run, [(key, event)])               ▲ read(run, after=id) / wait(...)
        ▼                                           │
   EventChannel ── SqliteChannel (embedded, one machine)
                └─ RedisChannel  (Redis Streams, several app instances)
```

Ids are per run and strictly increasing; an event published with a key already in the run's
stream is dropped, so a replayed or retried publisher never duplicates what it sent before.
"""

from .agui import (
    FINAL_KEY,
    custom,
    is_final,
    run_error,
    run_finished,
    run_resumed,
    run_started,
    state_delta,
    state_snapshot,
    step_finished,
    step_started,
    text_content,
    text_end,
    text_start,
    tool_call_args,
    tool_call_end,
    tool_call_result,
    tool_call_start,
)
from .channel import ChannelConfig, ChannelUnavailable, EventChannel, Keyed, StoredEvent, open_channel
from .sse import sse_frames

__all__ = [
    "FINAL_KEY",
    "ChannelConfig",
    "ChannelUnavailable",
    "EventChannel",
    "Keyed",
    "StoredEvent",
    "custom",
    "is_final",
    "open_channel",
    "run_error",
    "run_finished",
    "run_resumed",
    "run_started",
    "sse_frames",
    "state_delta",
    "state_snapshot",
    "step_finished",
    "step_started",
    "text_content",
    "text_end",
    "text_start",
    "tool_call_args",
    "tool_call_end",
    "tool_call_result",
    "tool_call_start",
]
