"""A run's timeline in the terminal: one row per model step, tool call and wait, bars on one time axis.

Built from ``GET /api/runs/{id}/timeline``; the bar column is the run from its start to its end
(or the last entry while it runs), so rows line up like the console's waterfall.
"""

from __future__ import annotations

from datetime import datetime

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from toolmesh_cli.schemas import Timeline, TimelineEntry

__all__ = ["BAR_WIDTH", "render_timeline"]

BAR_WIDTH = 40
_KIND_STYLE = {"model": "magenta", "tool": "cyan", "memory": "blue", "approval": "yellow", "callback": "yellow"}


def _seconds(iso: str | None) -> float | None:
    try:
        return datetime.fromisoformat(iso).timestamp() if iso else None
    except ValueError:
        return None


def _bar(entry: TimelineEntry, origin: float, span: float) -> Text:
    start, end = _seconds(entry.start) or origin, _seconds(entry.end) or origin
    left = int((start - origin) / span * BAR_WIDTH)
    width = max(1, round((end - start) / span * BAR_WIDTH))
    left = min(left, BAR_WIDTH - 1)
    width = min(width, BAR_WIDTH - left)
    style = _KIND_STYLE.get(entry.kind, "white") if entry.ok else "red"
    return Text.assemble(" " * left, ("█" * width, style), " " * (BAR_WIDTH - left - width))


def _outcome(entry: TimelineEntry) -> Text:
    label = "ok" if entry.ok else "failed"
    if entry.attempts > 1:
        label += f" ({entry.attempts} attempts)"
    if entry.detail:
        label += f" · {entry.detail}"
    return Text(label, style="green" if entry.ok else "red")


def _metrics_line(timeline: Timeline) -> Text | None:
    metrics = timeline.metrics
    if not metrics:
        return None
    seconds = metrics.get("seconds") or {}
    calls = metrics.get("tool_calls") or {}
    made = sum(int(c.get("ok", 0)) + int(c.get("failed", 0)) for c in calls.values())
    return Text(
        f"{metrics.get('model_steps', 0)} model steps · {made} tool calls · {metrics.get('retries', 0)} retries · "
        f"model {seconds.get('model', 0):.2f}s · tools {seconds.get('tools', 0):.2f}s · "
        f"people {seconds.get('people', 0):.2f}s · orchestration {seconds.get('orchestration', 0):.2f}s · "
        f"total {seconds.get('total', 0):.2f}s",
        style="dim",
    )


def render_timeline(timeline: Timeline) -> RenderableType:
    """The waterfall table, with the run's metrics and cost under it."""
    entries = timeline.entries
    if not entries:
        return Text(f"run {timeline.id} has no timeline yet" + ("" if timeline.complete else " (still running)"))
    starts = [s for s in (_seconds(e.start) for e in entries) if s is not None]
    ends = [s for s in (_seconds(e.end) for e in entries) if s is not None]
    origin = _seconds(timeline.started_at) or min(starts)
    finish = _seconds(timeline.finished_at) or max(ends)
    span = max(finish - origin, 1e-3)
    table = Table(title=f"Timeline of run {timeline.id}", expand=False)
    for column in ("at", "took", "kind", "name", "task", "bar", "outcome"):
        table.add_column(column, no_wrap=column != "outcome", overflow="ellipsis")
    for entry in entries:
        start, end = _seconds(entry.start) or origin, _seconds(entry.end) or origin
        table.add_row(
            f"+{start - origin:.2f}s",
            f"{end - start:.2f}s",
            Text(entry.kind, style=_KIND_STYLE.get(entry.kind, "white")),
            entry.name,
            str(entry.task_id or ""),
            _bar(entry, origin, span),
            _outcome(entry),
        )
    cost = sum(e.cost_usd for e in entries)
    footer = [Text(f"cost ${cost:.4f} · trace {timeline.trace_id or '-'}", style="dim")]
    metrics = _metrics_line(timeline)
    return Group(table, *([metrics] if metrics else []), *footer)
