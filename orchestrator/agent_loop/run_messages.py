"""Talking to a run: send it a message, read its conversation, abort its chat turn.

Shared by the HTTP API and the MCP endpoint, like run_control. A message is stored first (so
the transcript holds it and a run that misses its event still takes it), then raised on the
run as its ``message`` event. Each run holds a bounded number of messages it has not taken;
past that a sender gets 429 and tries again, so a storm of messages cannot grow the run.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df

from .conversation import MESSAGE_EVENT, abort_event
from .conversation_events import publish_message, publish_turn_aborted
from .conversation_store import TooManyPending, conversation_store
from .run_control import FINISHED, RunControlError, find_run
from .settings import get_settings

__all__ = ["MAX_AUTHOR_CHARS", "MAX_TEXT_CHARS", "abort_turn", "list_messages", "send_message"]

MAX_TEXT_CHARS = 4000
MAX_AUTHOR_CHARS = 64
MAX_PAGE = 200
MAX_AFTER = 2**31 - 1
_AUTHOR = re.compile(r"^[^\W_][\w .,'@()+-]*$")


def check_author(author: Any) -> str:
    """A display name: letters or digits first, then those, spaces and a little punctuation; bounded."""
    if not isinstance(author, str) or not author.strip():
        raise RunControlError(400, "author: a non-empty display name is required", "author")
    clean = author.strip()
    if len(clean) > MAX_AUTHOR_CHARS or not _AUTHOR.match(clean):
        message = (
            f"author: at most {MAX_AUTHOR_CHARS} characters, starting with a letter or digit, "
            "then letters, digits, spaces and . , ' @ ( ) + -"
        )
        raise RunControlError(400, message, "author")
    return clean


def check_text(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise RunControlError(400, "text: a non-empty message is required", "text")
    if len(text) > MAX_TEXT_CHARS:
        raise RunControlError(400, f"text: at most {MAX_TEXT_CHARS} characters (got {len(text)})", "text")
    if any(not c.isprintable() and c not in "\n\t" for c in text):
        raise RunControlError(400, "text: control characters are not allowed (newlines and tabs are)", "text")
    return text.strip()


async def _open_run(client: df.DurableOrchestrationClient, run_id: str) -> df.models.DurableOrchestrationStatus:
    status = await find_run(client, run_id)
    if status is None:
        raise RunControlError(404, f"no run with id {run_id!r}")
    if status.runtime_status and status.runtime_status.value in FINISHED:
        raise RunControlError(409, f"run {run_id} has already finished ({status.runtime_status.value})")
    return status


async def send_message(client: df.DurableOrchestrationClient, run_id: str, author: Any, text: Any) -> dict[str, Any]:
    """Store a person's message and deliver it to the run; the stored message (status ``pending``)."""
    author, text = check_author(author), check_text(text)
    await _open_run(client, run_id)
    store = conversation_store()
    message_id = f"m-{uuid.uuid4().hex}"
    try:
        stored = await asyncio.to_thread(
            store.add_person_message, run_id, message_id, author, text, get_settings().max_pending_messages
        )
    except TooManyPending as exc:
        message = f"run {run_id} has not taken its earlier messages yet ({exc}); retry later"
        raise RunControlError(429, message) from None
    event = {"id": stored.id, "seq": stored.seq, "author": author, "text": text, "at": stored.at}
    try:
        await client.raise_event(run_id, MESSAGE_EVENT, event)
    except Exception:  # noqa: BLE001 - it ended since the check: the message is kept, marked refused
        await asyncio.to_thread(store.withdraw, run_id, message_id, "not taken: the run had ended")
        raise RunControlError(409, f"run {run_id} has already finished") from None
    await publish_message(run_id, stored.to_dict())
    return stored.to_dict()


async def list_messages(
    client: df.DurableOrchestrationClient, run_id: str, after: int = 0, limit: int = 50
) -> dict[str, Any]:
    """A page of the run's conversation after sequence number ``after``, oldest first."""
    if not 1 <= limit <= MAX_PAGE:
        raise RunControlError(400, f"limit must be between 1 and {MAX_PAGE}", "limit")
    if not 0 <= after <= MAX_AFTER:
        raise RunControlError(400, f"after must be between 0 and {MAX_AFTER}", "after")
    if await find_run(client, run_id) is None:
        raise RunControlError(404, f"no run with id {run_id!r}")
    found = await asyncio.to_thread(conversation_store().page, run_id, after, limit + 1)
    page = found[:limit]
    return {
        "id": run_id,
        "messages": [m.to_dict() for m in page],
        "next_after": page[-1].seq if len(found) > limit else None,
    }


async def abort_turn(client: df.DurableOrchestrationClient, run_id: str, author: Any = "someone") -> dict[str, Any]:
    """Stop the chat turn in progress (its model and tool work); the chat itself goes on."""
    author = check_author(author)
    status = await _open_run(client, run_id)
    progress = status.custom_status if isinstance(status.custom_status, dict) else {}
    chat = progress.get("conversation")
    turn = chat.get("turn") if isinstance(chat, dict) else None
    if not isinstance(turn, str) or not turn:
        raise RunControlError(409, f"run {run_id} has no turn in progress")
    await asyncio.to_thread(conversation_store().abort_turn, run_id, turn, author)
    at = datetime.now(UTC).isoformat()
    await client.raise_event(run_id, abort_event(turn), {"author": author, "at": at})
    await publish_turn_aborted(run_id, turn, author)
    return {"id": run_id, "turn": turn, "aborted": True}
