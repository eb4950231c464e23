"""How runs, run lists and the tool catalog look in a terminal (rich renderables, no I/O).

Commands print what these functions build; keeping them pure lets the live view and the
one-shot ``show`` share every line, and lets tests render to a string.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from toolmesh_cli.schemas import (
    CatalogTool,
    Progress,
    Report,
    RunStatus,
    RunSummary,
    Schedule,
    SubRun,
    TaskItem,
    ToolCatalog,
    Usage,
    Waiting,
)

__all__ = [
    "EXIT_CANCELLED",
    "EXIT_DETACHED",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "exit_code_for",
    "render_agents",
    "render_catalog",
    "render_run",
    "render_runs",
    "render_schedules",
    "render_tool",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 3
EXIT_DETACHED = 130
"""Ctrl-C while following: the run goes on, the command stops watching (the shell's SIGINT code)."""

_STATUS_STYLE = {
    "Completed": "green",
    "Failed": "red",
    "Terminated": "red",
    "Running": "cyan",
    "Pending": "yellow",
    "Suspended": "yellow",
}


def exit_code_for(status: RunStatus) -> int:
    """0 completed, 1 failed, terminated or completed with a failed task, 3 cancelled (a run still going: 0)."""
    if status.status in ("Failed", "Terminated", "Canceled"):
        return EXIT_FAILED
    if status.output is not None:
        if status.output.outcome == "cancelled":
            return EXIT_CANCELLED
        if status.output.outcome in ("failed", "completed_with_failures"):
            return EXIT_FAILED
    return EXIT_OK


def one_line(value: Any, limit: int = 100) -> str:
    """A value as one short line: dicts as compact JSON, newlines folded, long text cut."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _row(table: Table, *cells: str | Text) -> None:
    """Add a row whose text is shown literally: data never counts as rich markup."""
    table.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in cells))


def _short_time(iso: str | None) -> str:
    """'2026-11-20T22:51:10.123456+00:00' as '2026-11-20 22:51:10'."""
    return (iso or "").replace("T", " ")[:19]


def _status_text(status: str) -> Text:
    return Text(status, style=_STATUS_STYLE.get(status, "white"))


def render_runs(runs: list[RunSummary]) -> RenderableType:
    if not runs:
        return Text('No runs yet. Start one with: toolmesh run "objective"')
    table = Table(title="Runs", expand=False)
    table.add_column("id", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("objective", overflow="ellipsis", ratio=1)
    table.add_column("updated", no_wrap=True)
    table.add_column("cost", no_wrap=True, justify="right")
    for run in runs:
        _row(
            table,
            run.id,
            _status_text(run.status),
            one_line(run.objective, 60),
            _short_time(run.updated),
            f"${run.cost_usd:.4f}",
        )
    return table


def _agent_cell(task: TaskItem) -> str:
    """The agent that has the task, after the chain of handoffs that led to it."""
    if task.agent is None:
        return ""
    chain = [h.from_ for h in task.handoffs] + [task.agent]
    return " → ".join(chain)


def _tasks_table(progress: Progress) -> Table:
    table = Table(title="Tasks", expand=True, show_lines=False)
    networked = any(t.agent for t in [*progress.done, *([progress.current_task] if progress.current_task else [])])
    table.add_column("#", width=4)
    table.add_column("task", ratio=2)
    if networked:
        table.add_column("agent", ratio=1)
    table.add_column("result", ratio=3)

    def row(task: TaskItem, result: Text) -> None:
        _row(table, str(task.id), task.task, *([_agent_cell(task)] if networked else []), result)

    for task in progress.done:
        row(task, Text(one_line(task.result, 160), style="green"))
    if progress.current_task is not None:
        row(progress.current_task, Text("running…", style="cyan"))
    for task in progress.pending:
        row(task, Text("pending", style="dim"))
    return table


def _routing(progress: Progress) -> list[RenderableType]:
    """Why each task went to its agent, and every handoff."""
    lines: list[RenderableType] = []
    tasks = [*progress.done, *([progress.current_task] if progress.current_task else [])]
    for task in tasks:
        if task.route is not None:
            lines.append(
                Text.assemble(
                    ("routed ", "bold"), f"task {task.id} → {task.route.agent} ({task.route.by}): {task.route.reason}"
                )
            )
        for handoff in task.handoffs:
            lines.append(
                Text.assemble(("handoff ", "bold"), f"task {task.id}: {handoff.from_} → {handoff.to}: {handoff.reason}")
            )
    return lines


def _waiting_line(waiting: Waiting) -> Text:
    if waiting.kind == "event":
        return Text.assemble(
            ("waiting for event ", "bold yellow"),
            f"{waiting.event} where {one_line(waiting.match, 80)} (call {waiting.call_id})",
            f" until {waiting.expires_at}" if waiting.expires_at else "",
            ("\n  toolmesh event ", "dim"),
            (f"{waiting.event} '{one_line(waiting.match, 80)}'", "dim"),
        )
    return Text.assemble(
        ("waiting for a reply ", "bold yellow"),
        f"{waiting.function} call {waiting.call_id} since {waiting.since or '?'}",
        f": {one_line(waiting.message, 80)}" if waiting.message else "",
    )


def _sub_runs_tree(run_id: str, sub_runs: list[SubRun]) -> Tree:
    """The sub-orchestrations in flight under the run, each with what it waits for."""
    tree = Tree(Text(f"run {run_id}", style="bold"))
    for sub in sub_runs:
        phase = sub.progress.phase if sub.progress else ""
        node = tree.add(
            Text(f"task {sub.task_id} · {sub.agent} · {sub.status or '?'} {phase}".rstrip() + f"  ({sub.id})")
        )
        for waiting in sub.progress.waiting if sub.progress else []:
            node.add(_waiting_line(waiting))
        for approval in sub.progress.approvals if sub.progress else []:
            node.add(
                Text.assemble(
                    ("approval needed ", "bold yellow"),
                    f"{approval.function}({one_line(approval.arguments, 60)}) ",
                    (f"toolmesh approve {run_id} {approval.call_id}", "dim"),
                )
            )
    return tree


def _calls_table(progress: Progress) -> Table:
    table = Table(title="Tool calls", expand=True)
    for column in ("call", "task", "function", "arguments", "outcome"):
        table.add_column(column, overflow="ellipsis")
    for call in progress.tool_calls:
        if call.ok is None:
            outcome = Text(str(call.status or "running"), style="yellow")
        else:
            label = f"{'ok' if call.ok else 'error'} {call.status or ''} {one_line(call.summary, 60)}"
            outcome = Text(label.strip(), style="green" if call.ok else "red")
        _row(table, call.call_id, str(call.task_id or ""), call.function, one_line(call.arguments, 60), outcome)
    return table


def _attention(run_id: str, progress: Progress) -> list[RenderableType]:
    parts: list[RenderableType] = []
    for approval in progress.approvals:
        text = Text.assemble(
            ("approval needed ", "bold yellow"),
            f"{approval.function}({one_line(approval.arguments, 80)}) call {approval.call_id}",
            f" expires {approval.expires_at}" if approval.expires_at else "",
            ("\n  toolmesh approve ", "dim"),
            (f"{run_id} {approval.call_id} [--deny]", "dim"),
        )
        parts.append(text)
    for waiting in progress.waiting:
        text = _waiting_line(waiting)
        if waiting.kind != "event":
            text.append_text(
                Text.assemble(("\n  toolmesh reply ", "dim"), (f'{run_id} {waiting.call_id} "text"', "dim"))
            )
        parts.append(text)
    return parts


def _usage_line(usage: Usage) -> Text:
    return Text(
        f"usage: {usage.llm_calls} LLM calls, {usage.total_tokens} tokens "
        f"({usage.prompt_tokens} prompt + {usage.completion_tokens} completion), "
        f"{usage.tool_calls} tool calls, cost ${usage.cost_usd:.4f}",
        style="dim",
    )


def _report(report: Report) -> RenderableType:
    body: list[RenderableType] = [
        Text.assemble(("outcome: ", "bold"), report.outcome, ("  stop reason: ", "bold"), report.stop_reason)
    ]
    if report.summary:
        body.append(Text(report.summary))
    if report.pending:
        body.append(Text(f"{len(report.pending)} task(s) left pending", style="yellow"))
    body.append(_usage_line(report.usage))
    style = "green" if report.outcome == "completed" else "yellow"
    return Panel(Group(*body), title="Report", border_style=style)


def render_run(run: RunStatus) -> RenderableType:
    """The whole run: header, tasks, tool calls, what needs a person, usage and the report."""
    header = Text.assemble(
        ("run ", "bold"),
        run.id,
        "  ",
        _status_text(run.status),
        f"  phase {run.progress.phase} · iteration {run.progress.iteration}" if run.progress else "",
    )
    parts: list[RenderableType] = [header, Text.assemble(("objective: ", "bold"), run.objective)]
    progress = run.progress
    if progress is None and run.output is not None:
        progress = Progress(
            phase="done",
            done=[
                TaskItem(id=t.id, task=t.task, result=t.result, agent=t.agent, route=t.route, handoffs=t.handoffs)
                for t in run.output.tasks
            ],
            usage=run.output.usage,
        )
    if progress is not None:
        parts.append(_tasks_table(progress))
        parts.extend(_routing(progress))
        if progress.sub_runs:
            parts.append(_sub_runs_tree(run.id, progress.sub_runs))
        if progress.tool_calls:
            parts.append(_calls_table(progress))
        parts.extend(_attention(run.id, progress))
        if run.output is None:
            parts.append(_usage_line(progress.usage))
    if run.output is not None:
        parts.append(_report(run.output))
    if run.failure:
        parts.append(Panel(Text(run.failure), title="Run failed", border_style="red"))
    return Group(*parts)


def render_catalog(catalog: ToolCatalog) -> RenderableType:
    table = Table(title="Tool catalog")
    for column in ("tool", "function", "approval", "chars", "≈tokens", "description"):
        table.add_column(column, overflow="ellipsis")
    for tool in catalog.tools:
        for function in tool.functions:
            _row(
                table,
                tool.name,
                function.name,
                "asks" if function.needs_approval else "",
                str(function.size_chars or ""),
                str(function.approx_tokens or ""),
                one_line(function.description, 60),
            )
    parts: list[RenderableType] = [table]
    total = sum(f.approx_tokens or 0 for t in catalog.tools for f in t.functions)
    parts.append(Text(f"{len(catalog.tools)} tools, ≈{total} tokens of function schemas", style="dim"))
    for problem in catalog.problems:
        parts.append(Text(f"problem: {one_line(problem, 200)}", style="red"))
    return Group(*parts)


def render_tool(tool: CatalogTool) -> RenderableType:
    parts: list[RenderableType] = [Text.assemble(("tool ", "bold"), tool.name, f"  {tool.base_url or ''}")]
    for function in tool.functions:
        title = f"{function.name}{'  (asks for approval)' if function.needs_approval else ''}"
        schema = json.dumps(function.parameters or {}, indent=2)
        parts.append(Panel(Group(Text(function.description), Text(schema, style="cyan")), title=Text(title)))
    return Group(*parts)


def render_schedules(schedules: list[Schedule]) -> RenderableType:
    if not schedules:
        return Text('No schedules. Add one with: toolmesh schedules add "CRON" "objective"')
    table = Table(title="Schedules")
    for column in ("id", "cron", "state", "next tick", "runs", "missed", "last run", "objective"):
        table.add_column(column, overflow="ellipsis")
    for item in schedules:
        state = Text("paused", style="yellow") if item.paused else Text("active", style="green")
        _row(
            table,
            item.id,
            item.cron,
            state,
            _short_time(item.next_tick),
            str(item.runs_started),
            str(item.missed),
            item.last_run_id or "",
            one_line(item.objective, 40),
        )
    return table


def render_agents(config: dict[str, Any]) -> RenderableType:
    """The agents and networks of specs/agents.yaml, and every entry that failed."""
    agents = Table(title="Agents")
    for column in ("agent", "model", "tools", "events", "description"):
        agents.add_column(column, overflow="ellipsis")
    for name, agent in sorted((config.get("agents") or {}).items()):
        tools = agent.get("tools")
        _row(
            agents,
            name,
            agent.get("model") or "(run's)",
            "all" if tools is None else ", ".join(tools),
            ", ".join(agent.get("events") or []),
            one_line(agent.get("description"), 60),
        )
    networks = Table(title="Networks")
    for column in ("network", "agents", "rules", "max handoffs"):
        networks.add_column(column, overflow="ellipsis")
    for name, network in sorted((config.get("networks") or {}).items()):
        rules = network.get("router", {}).get("rules") or []
        shown = "; ".join(f"{', '.join(r.get('keywords', []) + r.get('tags', []))} → {r['agent']}" for r in rules)
        _row(networks, name, ", ".join(network.get("agents") or []), shown, str(network.get("max_handoffs")))
    parts: list[RenderableType] = [agents, networks]
    for problem in config.get("problems") or []:
        label = f"{problem.get('kind')} {problem.get('name') or ''}".strip()
        parts.append(Text(f"problem: {label}: {one_line(problem.get('message'), 200)}", style="red"))
    return Group(*parts)
