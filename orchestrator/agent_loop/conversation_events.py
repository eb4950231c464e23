"""The conversation on a run's live event stream: people's messages and the agent's, as they happen.

A person's message is published by the run API once it is stored (``toolmesh.message``, the
stored message) and again when the run takes it (``toolmesh.message_taken``: its id and what the
run did about it). The agent's messages are AG-UI text messages (start, content, end) named by
their author, published by the activity that stores them; an aborted turn is
``toolmesh.turn_aborted``. Every event has a key, so a retried publisher adds nothing twice, and
publishing never fails the caller (see agent_loop.live_events).
"""

from __future__ import annotations

from typing import Any

from run_events import Keyed, custom, text_content, text_end, text_start

from .live_events import now_ms, publish

__all__ = ["publish_message", "publish_recorded", "publish_turn_aborted"]


async def publish_message(run_id: str, message: dict[str, Any]) -> None:
    """A person's message, just stored (status ``pending``)."""
    await publish(run_id, [(f"message:{message['id']}", custom("toolmesh.message", message, now_ms()))])


async def publish_recorded(run_id: str, taken: list[dict[str, Any]], said: list[dict[str, Any]]) -> None:
    """People's messages the run took, then what the agent said."""
    at = now_ms()
    events: list[Keyed] = []
    for item in taken:
        value = {"id": item["id"], "outcome": item.get("outcome") or ""}
        events.append((f"taken:{item['id']}", custom("toolmesh.message_taken", value, at)))
    for item in said:
        message_id = f"{run_id}/{item['id']}"
        author = str(item.get("author") or "agent")
        events += [
            (f"said:{item['id']}:start", text_start(message_id, at, name=author)),
            (f"said:{item['id']}:content", text_content(message_id, str(item["text"]) or " ", at)),
            (f"said:{item['id']}:end", text_end(message_id, at)),
        ]
    await publish(run_id, events)


async def publish_turn_aborted(run_id: str, turn: str, author: str) -> None:
    event = custom("toolmesh.turn_aborted", {"turn": turn, "author": author}, now_ms())
    await publish(run_id, [(f"abort:{turn}", event)])
