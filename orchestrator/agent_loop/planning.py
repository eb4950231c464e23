"""Pure, replay-safe helpers that fold model answers into the run state.

The orchestrator calls these between activities. They never do I/O, so they are tested
directly, without Durable, and give the same answer on every replay.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from .state import RunState, Task

__all__ = [
    "add_new_tasks",
    "apply_priority",
    "budget_stop",
    "normalize_task",
    "one_line",
    "over_cost",
    "parse_json_object",
]

_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]")
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


def normalize_task(text: str) -> str:
    """The form two task texts share when they mean the same task (case, spacing, punctuation)."""
    return _SPACE.sub(" ", _PUNCT.sub(" ", text.lower())).strip()


def one_line(text: str | None, limit: int = 200) -> str:
    """A single line of at most ``limit`` characters, for progress and reports."""
    flat = _SPACE.sub(" ", text or "").strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def parse_json_object(content: str | None) -> dict[str, Any] | None:
    """The JSON object a model answered with, tolerating code fences; None when there is none."""
    if not content:
        return None
    text = _FENCE.sub("", content.strip())
    try:
        value = json.loads(text)
    except ValueError:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            return None
        try:
            value = json.loads(text[start : end + 1])
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def add_new_tasks(state: RunState, texts: list[Any], max_new: int) -> list[Task]:
    """Append new tasks, skipping any that repeat a done, pending or just-added task."""
    seen = {normalize_task(t.task) for t in (*state.pending, *state.done)}
    added: list[Task] = []
    for text in texts:
        if len(added) >= max_new:
            break
        if not isinstance(text, str):
            continue
        clean = one_line(text, 500)
        key = normalize_task(clean)
        if not key or key in seen:
            continue
        seen.add(key)
        added.append(state.add_task(clean))
    return added


def apply_priority(state: RunState, order: Any) -> bool:
    """Reorder pending tasks by ``order`` (task ids) if it is exactly a permutation of them.

    A prioritizer that drops, repeats or invents a task is ignored and the previous order kept,
    so no task is ever silently lost.
    """
    ids = [t.id for t in state.pending]
    if not isinstance(order, list) or sorted(order, key=str) != sorted(ids, key=str):
        return False
    by_id = {t.id: t for t in state.pending}
    state.pending = [by_id[i] for i in order]
    return True


def budget_stop(state: RunState, now: datetime, *, chat: bool = False) -> str | None:
    """The name of the first budget that is spent, or None while all hold.

    A chat's turns are asked for by people, so ``max_iterations`` does not end a chat.
    """
    budgets = state.request["budgets"]
    started = datetime.fromisoformat(state.started_at)
    if now - started >= timedelta(seconds=budgets["deadline_seconds"]):
        return "deadline"
    if not chat and state.iteration >= budgets["max_iterations"]:
        return "max_iterations"
    if state.usage.tool_calls >= budgets["max_tool_calls"]:
        return "max_tool_calls"
    if state.usage.total_tokens >= budgets["max_tokens"]:
        return "max_tokens"
    if over_cost(state):
        return "max_cost"
    return None


def over_cost(state: RunState) -> bool:
    """Whether the run has spent its ``max_cost`` (never, when it has none)."""
    limit = state.request["budgets"].get("max_cost")
    return limit is not None and state.usage.cost_usd >= limit
