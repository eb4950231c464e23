"""The offline model's ``messages`` step: what people's messages to a run mean, by plain rules.

Deterministic, so tests and the demo can steer a run with messages: a message that starts
with "stop" (or cancel, abort, halt) stops the run; one that says "instead" or "change of
plan" replaces the pending tasks with what it asks; a question (ending in "?") is answered
with where the run stands; anything else is a task to add (in a chat, every message but a
stop is a turn).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["decide_messages"]

_STOP = re.compile(r"^\W*(?:please\s+)?(?:stop|cancel|abort|halt)\b", re.IGNORECASE)
_PLAN = re.compile(r"\b(?:instead|change of plan|change the plan|new plan)\b", re.IGNORECASE)
_PLAN_LEAD = re.compile(r"^\W*(?:instead|change of plan|new plan)\s*[:,.;-]?\s*", re.IGNORECASE)
_PLAN_TAIL = re.compile(r"[\s,;]*\binstead\b\W*$", re.IGNORECASE)
PREFIX = "[offline] "


def _excerpt(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _as_task(text: str) -> str:
    task = _PLAN_TAIL.sub("", _PLAN_LEAD.sub("", text.strip())).strip()
    return (task[:1].upper() + task[1:]) if task else text.strip()


def _where_we_are(data: dict[str, Any]) -> str:
    done = [str(t) for t in data.get("done_tasks") or []]
    pending = [str(t) for t in data.get("pending_tasks") or []]
    current = data.get("current_task")
    parts = [f"{len(done)} task(s) done"]
    if current:
        parts.append(f"working on '{_excerpt(str(current), 80)}'")
    parts.append(f"{len(pending)} pending" + (f" (next: '{_excerpt(pending[0], 80)}')" if pending else ""))
    return ", ".join(parts)


def decide_messages(data: dict[str, Any]) -> dict[str, Any]:
    """One decision per message and one reply, as the ``messages`` step asks."""
    chat = data.get("mode") == "chat"
    decisions: list[dict[str, Any]] = []
    replies: list[str] = []
    for message in data.get("messages") or []:
        if not isinstance(message, dict):
            continue
        text = str(message.get("text") or "")
        who = str(message.get("author") or "someone")
        entry: dict[str, Any] = {"id": message.get("id")}
        if _STOP.search(text):
            entry["meaning"] = "stop"
            replies.append(f"Stopping, as {who} asked.")
        elif _PLAN.search(text):
            entry.update(meaning="plan", tasks=[_as_task(text)])
            replies.append(f"Changed the plan for {who}: next is '{_excerpt(_as_task(text))}'.")
        elif not chat and text.rstrip().endswith("?"):
            entry["meaning"] = "answer"
            replies.append(f"{who}, so far: {_where_we_are(data)}.")
        else:
            entry.update(meaning="task", tasks=[text.strip()])
            replies.append(f"On it, {who}: '{_excerpt(text)}'." if chat else f"Added for {who}: '{_excerpt(text)}'.")
        decisions.append(entry)
    return {"decisions": decisions, "reply": PREFIX + " ".join(replies) if replies else ""}
