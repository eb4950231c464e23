"""The activities that keep a run's conversation in its store (see agent_loop.conversation_store).

The orchestrator cannot do I/O, so what it says and what it took go through these; their
answers are tiny, so the run's history stays small however long the conversation gets.
"""

from __future__ import annotations

import asyncio
from typing import Any

import azure.durable_functions as df

from .activity_contracts import PendingMessagesInput, RecordConversationInput
from .conversation_events import publish_recorded
from .conversation_store import conversation_store

__all__ = ["MAX_CATCH_UP", "bp", "pending_messages", "record_conversation"]

bp = df.Blueprint()

MAX_CATCH_UP = 50


@bp.activity_trigger(input_name="payload")
async def record_conversation(payload: dict[str, Any]) -> dict[str, Any]:
    """Mark people's messages taken (with what the run did) and add the agent's; at the end, refuse the rest.

    Then the same goes on the run's live event stream, for everyone watching.
    """
    request = RecordConversationInput.parse(payload)
    refused = await asyncio.to_thread(_record, request)
    await publish_recorded(request.stream or request.run_id, request.taken, request.said)
    return {"recorded": True, "refused": refused}


def _record(request: RecordConversationInput) -> int:
    store = conversation_store()
    store.record(request.run_id, request.taken, request.said)
    refused = 0
    if request.closing:
        for message in store.pending(request.run_id, 10_000):
            store.withdraw(request.run_id, message.id, request.closing)
            refused += 1
    return refused


@bp.activity_trigger(input_name="payload")
def pending_messages(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """People's messages stored for the run and not taken yet (their events may have been dropped)."""
    request = PendingMessagesInput.parse(payload)
    found = conversation_store().pending(request.run_id, MAX_CATCH_UP)
    return [{"id": m.id, "seq": m.seq, "author": m.author, "text": m.text, "at": m.at} for m in found]
