"""A model step's deltas: pieces close together go out as one event, and nothing waits long."""

from __future__ import annotations

import asyncio
from typing import Any

from agent_loop.model_stream import COALESCE_SECONDS, StepEvents
from run_events import Keyed


class _Published:
    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []

    async def __call__(self, events: list[Keyed]) -> None:
        self.batches.append([event for _, event in events])

    def kinds(self) -> list[str]:
        return [event["type"] for batch in self.batches for event in batch]

    def text(self) -> str:
        return "".join(e["delta"] for batch in self.batches for e in batch if e["type"] == "TEXT_MESSAGE_CONTENT")


def _events(published: _Published) -> StepEvents:
    return StepEvents(published, "m1", lambda index: f"call{index}", "execute_task")


async def test_pieces_within_the_window_are_one_delta_and_the_first_goes_at_once() -> None:
    published = _Published()
    events = _events(published)
    events.text("Hel")
    await events.flush()
    assert published.kinds() == ["TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT"]  # nothing was sent lately
    for piece in ("lo", ", ", "world"):
        events.text(piece)
        await events.flush()
    assert len(published.batches) == 1  # held for the window
    await asyncio.sleep(COALESCE_SECONDS * 3)
    assert len(published.batches) == 2 and published.batches[1][0]["delta"] == "lo, world"
    await events.close()
    assert published.kinds()[-1] == "TEXT_MESSAGE_END" and published.text() == "Hello, world"


async def test_close_sends_what_is_held_in_order_with_tool_call_arguments_joined() -> None:
    published = _Published()
    events = _events(published)
    events.text("Let me look.")
    await events.flush()
    events.tool(0, "search", '{"q"')
    events.tool(0, None, ': "sky"}')
    await events.flush()
    await events.close()
    assert published.kinds() == [
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
    ]
    args = [e for batch in published.batches for e in batch if e["type"] == "TOOL_CALL_ARGS"]
    assert args[0]["delta"] == '{"q": "sky"}' and args[0]["toolCallId"] == "call0"
    await asyncio.sleep(COALESCE_SECONDS * 2)
    assert published.kinds()[-1] == "TOOL_CALL_END"  # the cancelled timer sent nothing after close


async def test_a_retried_attempt_tells_its_calls_under_new_ids_and_keeps_them_for_the_results() -> None:
    published = _Published()
    events = _events(published)
    events.tool(0, "search", '{"q": "sk')  # the first attempt breaks off here
    await events.close()
    events.text("Searching.")
    events.tool(0, "search", '{"q": "sky"}')
    events.tool(1, "fetch", "{}")
    await events.close()
    starts = [e for batch in published.batches for e in batch if e["type"] == "TOOL_CALL_START"]
    assert [e["toolCallId"] for e in starts] == ["call0", "call0.2", "call1.2"]
    assert events.told_calls == {0: "call0.2", 1: "call1.2"}
    messages = {e["messageId"] for batch in published.batches for e in batch if e["type"] == "TEXT_MESSAGE_START"}
    assert messages == {"m1.2"}  # the attempt that told text first is the second
    await events.close()  # closing again, with nothing told, forgets nothing
    assert events.told_calls == {0: "call0.2", 1: "call1.2"}
