"""The offline model's planning: objective -> imperative tasks, and the later loop decisions.

An objective such as "Find notes about solar panels, then write a summary note and compute
12*7" becomes one task per part. Sentences, numbered or bulleted lines and "then" always
separate parts; commas and "and" separate them only when the next fragment starts with an
action verb, so "salt and pepper" stays one noun phrase.
"""

from __future__ import annotations

import re
from typing import Any

from llm_gateway.providers.offline.text import starts_with_verb, words

__all__ = ["create_tasks", "prioritize", "split_objective"]

_BULLET = re.compile(r"^\s*(?:[-*•]|\(?\d+[.)]|\(?[a-z][.)])\s+", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\s*\n\s*")
_THEN = re.compile(r"\s*(?:,\s*)?\b(?:and\s+then|then|afterwards|after\s+that|finally)\b\s*,?\s*", re.IGNORECASE)
_SOFT = re.compile(r"(\s*(?:,\s*and\b|,|\band\b)\s*)", re.IGNORECASE)
_LEAD = re.compile(
    r"^(?:(?:please|first|firstly|next|also|then|and|finally|lastly|now|i\s+want\s+you\s+to|"
    r"you\s+should|we\s+need\s+to|i\s+need\s+you\s+to|can\s+you|could\s+you|try\s+to)\b[\s,:]*)+",
    re.IGNORECASE,
)


def _soft_split(sentence: str) -> list[str]:
    """Split on commas and "and" where the next fragment begins with an action verb."""
    pieces = _SOFT.split(sentence)
    parts = [pieces[0]]
    for separator, piece in zip(pieces[1::2], pieces[2::2], strict=True):
        if piece and starts_with_verb(_LEAD.sub("", piece)):
            parts.append(piece)
        else:
            parts[-1] = f"{parts[-1]}{separator}{piece}"
    return parts


def _imperative(fragment: str) -> str | None:
    text = _LEAD.sub("", fragment.strip()).strip(" \t.,;:!?-")
    if len(words(text)) < 1:
        return None
    if not starts_with_verb(text):
        text = f"Work on: {text}"
    return text[0].upper() + text[1:]


def split_objective(objective: str) -> list[str]:
    """The objective's parts as imperative tasks, in order, without duplicates."""
    lines = [_BULLET.sub("", line) for line in objective.splitlines()]
    tasks: list[str] = []
    for sentence in _SENTENCE.split("\n".join(lines)):
        for step in _THEN.split(sentence):
            for fragment in _soft_split(step):
                task = _imperative(fragment)
                if task and task.lower() not in (t.lower() for t in tasks):
                    tasks.append(task)
    return tasks


def create_tasks(request: dict[str, Any]) -> dict[str, Any]:
    """First call: the objective's parts (less any pending). Later: nothing new; done when nothing is pending."""
    objective = str(request.get("objective") or "")
    done = request.get("done_tasks") or []
    pending = request.get("pending_tasks") or []
    limit = request.get("max_new_tasks")
    if not done and request.get("last_task") is None:
        # The first plan; tasks may already be pending (people's messages can come before it).
        planned = {str(t).lower() for t in pending}
        tasks = split_objective(objective) or ([f"Work on: {objective.strip()}"] if objective.strip() else [])
        tasks = [t for t in tasks if t.lower() not in planned]
        if isinstance(limit, int) and limit >= 0:
            tasks = tasks[:limit]
        return {"tasks": tasks, "objective_met": not tasks and not pending}
    return {"tasks": [], "objective_met": not pending}


def prioritize(request: dict[str, Any]) -> dict[str, Any]:
    """Keep the given order: the objective's own order is the offline model's best guess."""
    tasks = request.get("tasks") or []
    return {"order": [t["id"] for t in tasks if isinstance(t, dict) and isinstance(t.get("id"), int)]}
