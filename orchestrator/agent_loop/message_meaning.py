"""What people's messages mean for a run: the ``messages`` model step's answer, checked.

Pure functions, so the orchestrator can replay them. The model answers with one decision per
message (``task``, ``plan``, ``answer``, ``stop`` or ``chat``) and one reply to the people; a
message the answer leaves out, or gives a meaning we do not know, counts as a remark the
reply acknowledges, so no message is silently dropped and nothing unexpected happens to the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .planning import one_line, parse_json_object

__all__ = ["MEANINGS", "Decision", "Meaning", "parse_meaning"]

MEANINGS = ("task", "plan", "answer", "stop", "chat")
MAX_TASKS_PER_MESSAGE = 5
MAX_REPLY_CHARS = 4000


@dataclass(frozen=True, kw_only=True)
class Decision:
    """What one message means: its kind and, for ``task`` and ``plan``, the tasks it asks for."""

    message_id: str
    meaning: str
    tasks: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Meaning:
    decisions: list[Decision]
    """One per message of the batch, in the batch's order."""
    reply: str
    """What the agent says back (may be empty)."""


def _tasks(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    texts = [one_line(v, 500) for v in value if isinstance(v, str) and v.strip()]
    return texts[:MAX_TASKS_PER_MESSAGE]


def parse_meaning(content: Any, message_ids: list[str], texts: dict[str, str]) -> Meaning:
    """The decisions for ``message_ids`` from the model's answer; a sensible default for each gap.

    A ``task`` or ``plan`` without tasks takes the message's own text as its task: the person
    asked for something, and losing that would be worse than a literal task.
    """
    parsed = parse_json_object(content) or {}
    given: dict[str, dict[str, Any]] = {}
    raw = parsed.get("decisions")
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"] not in given:
            given[item["id"]] = item
    decisions = []
    for message_id in message_ids:
        item = given.get(message_id, {})
        meaning = item.get("meaning")
        if meaning not in MEANINGS:
            meaning = "chat"
        tasks = _tasks(item.get("tasks")) if meaning in ("task", "plan") else []
        if meaning in ("task", "plan") and not tasks:
            tasks = [one_line(texts.get(message_id, ""), 500)] if texts.get(message_id, "").strip() else []
        decisions.append(Decision(message_id=message_id, meaning=str(meaning), tasks=tasks))
    reply = parsed.get("reply")
    text = reply.strip()[:MAX_REPLY_CHARS] if isinstance(reply, str) else ""
    return Meaning(decisions=decisions, reply=text)
