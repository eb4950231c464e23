"""The run's timeline: every model step, tool call and wait on one time axis, and what it adds up to.

Activities time their own work (``activity_timing``) and return it with their result, so the
times live in history like any result and the orchestrator folds them into the run state
without reading a clock. Waits for people are timed with the orchestration's own clock. The
report carries the timeline and the metrics built from it, so the run API serves both from
the run's output wherever the app runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "KINDS",
    "activity_timing",
    "entry",
    "run_metrics",
]

KINDS = ("model", "tool", "memory", "approval", "callback")
"""model: a model step; tool: a tool call; memory: the run's notes; approval/callback: waiting for people."""

# When two kinds overlap (a memory write beside a model step), the time counts once, for the first here.
_PRIORITY = ("people", "model", "tools")
_CATEGORY = {"model": "model", "tool": "tools", "memory": "tools", "approval": "people", "callback": "people"}


def activity_timing(started: datetime) -> dict[str, str]:
    """What an activity returns about its own run: when it started and ended (UTC)."""
    return {"start": started.isoformat(), "end": datetime.now(UTC).isoformat()}


def entry(
    kind: str,
    name: str,
    *,
    start: str,
    end: str,
    ok: bool = True,
    task_id: int | None = None,
    call_id: str | None = None,
    attempts: int = 1,
    tokens: int = 0,
    cost_usd: float = 0.0,
    detail: str = "",
) -> dict[str, Any]:
    """One bar of the timeline, as JSON-ready data."""
    return {
        "kind": kind,
        "name": name,
        "task_id": task_id,
        "call_id": call_id,
        "start": start,
        "end": end,
        "ok": ok,
        "attempts": attempts,
        "tokens": tokens,
        "cost_usd": cost_usd,
        "detail": detail,
    }


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _split_time(entries: Iterable[dict[str, Any]], start: float, end: float) -> dict[str, float]:
    """Seconds of [start, end] spent in each category; time no entry covers is orchestration."""
    spans = [
        (max(start, _seconds(e["start"])), min(end, _seconds(e["end"])), _CATEGORY[e["kind"]])
        for e in entries
        if e.get("kind") in _CATEGORY
    ]
    spans = [(a, b, c) for a, b, c in spans if b > a]
    cuts = sorted({start, end, *(a for a, _, _ in spans), *(b for _, b, _ in spans)})
    totals = dict.fromkeys((*_PRIORITY, "orchestration"), 0.0)
    for left, right in zip(cuts, cuts[1:], strict=False):
        covering = {c for a, b, c in spans if a <= left and b >= right}
        category = next((c for c in _PRIORITY if c in covering), "orchestration")
        totals[category] += right - left
    return {name: round(value, 3) for name, value in totals.items()}


def run_metrics(
    timeline: list[dict[str, Any]], calls: Iterable[tuple[str, bool]], *, started_at: str, finished_at: str
) -> dict[str, Any]:
    """Model steps, tool calls by function and outcome, retries, and where the time went."""
    outcomes: dict[str, Counter[str]] = {}
    for function, ok in calls:
        outcomes.setdefault(function, Counter())["ok" if ok else "failed"] += 1
    start, end = _seconds(started_at), _seconds(finished_at) if finished_at else _seconds(started_at)
    return {
        "model_steps": sum(1 for e in timeline if e["kind"] == "model"),
        "tool_calls": {name: {"ok": c["ok"], "failed": c["failed"]} for name, c in sorted(outcomes.items())},
        "retries": sum(max(0, int(e.get("attempts") or 1) - 1) for e in timeline),
        "seconds": {"total": round(max(0.0, end - start), 3), **_split_time(timeline, start, max(start, end))},
    }
