"""Commands about runs: start and follow, list, show, approve or deny, reply, cancel."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from toolmesh_cli.client import ApiClient, start_body
from toolmesh_cli.context import CliContext, cli_context, print_json, reporting_errors
from toolmesh_cli.errors import ConfigError
from toolmesh_cli.follow import DEFAULT_POLL_INTERVAL, follow_run
from toolmesh_cli.render import EXIT_DETACHED, exit_code_for, render_run, render_runs
from toolmesh_cli.timeline_view import render_timeline

__all__ = ["register"]

_APPROVAL_MODES = ("always", "never", "default")


def _parse_approvals(values: list[str]) -> dict[str, str]:
    approvals: dict[str, str] = {}
    for value in values:
        name, sep, mode = value.partition("=")
        if not sep or not name or mode not in _APPROVAL_MODES:
            raise ConfigError(f"--approval takes NAME=always|never|default, got {value!r}")
        approvals[name] = mode
    return approvals


def _follow_and_exit(state: CliContext, client: ApiClient, run_id: str, *, as_json: bool, interval: float) -> None:
    """Follow until the run ends and exit with its code; Ctrl-C detaches and says how to come back."""
    try:
        if as_json:
            run = follow_run(client, run_id, console=state.err, interval=interval, live=False)
            print_json(client.get_run_raw(run_id))
        else:
            run = follow_run(client, run_id, console=state.out, interval=interval)
            if not state.out.is_terminal:
                state.out.print(render_run(run))
    except KeyboardInterrupt:
        state.err.print(
            f"\ndetached; run {run_id} goes on. Reattach with: toolmesh show {run_id} --follow",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(EXIT_DETACHED) from None
    raise typer.Exit(exit_code_for(run))


def run(
    ctx: typer.Context,
    objective: Annotated[str, typer.Argument(help="What the agent should achieve.")],
    task: Annotated[list[str], typer.Option("--task", "-t", help="An initial task (repeatable).")] = [],  # noqa: B006
    tool: Annotated[
        list[str], typer.Option("--tool", help="A tool name or tag to allow (repeatable; default all).")
    ] = [],  # noqa: B006
    max_iterations: Annotated[int | None, typer.Option(help="Budget: loop iterations (1..200).")] = None,
    max_tool_calls: Annotated[int | None, typer.Option(help="Budget: tool calls in all (1..1000).")] = None,
    max_tool_calls_per_task: Annotated[int | None, typer.Option(help="Budget: tool calls per task.")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Budget: LLM tokens.")] = None,
    deadline_seconds: Annotated[int | None, typer.Option(help="Budget: wall-clock seconds.")] = None,
    max_cost: Annotated[float | None, typer.Option(help="Budget: USD at the gateway's prices.")] = None,
    model: Annotated[str | None, typer.Option(help="Gateway model alias (default: the server's).")] = None,
    approval: Annotated[
        list[str], typer.Option(help="NAME=always|never|default: approval policy for a tool or function.")
    ] = [],  # noqa: B006
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Start and return at once.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (the final status) for scripts.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between polls.", min=0.1)] = DEFAULT_POLL_INTERVAL,
) -> None:
    """Start a run and follow it live until it ends (Ctrl-C detaches; the run goes on)."""
    state = cli_context(ctx)
    with reporting_errors(state.err):
        body = start_body(
            objective,
            initial_tasks=task,
            budgets={
                "max_iterations": max_iterations,
                "max_tool_calls_per_task": max_tool_calls_per_task,
                "max_tool_calls": max_tool_calls,
                "max_tokens": max_tokens,
                "deadline_seconds": deadline_seconds,
                "max_cost": max_cost,
            },
            tools=tool,
            model=model,
            approval=_parse_approvals(approval),
        )
        with state.client() as client:
            created = client.start_run(body)
            if detach:
                if as_json:
                    print_json(created.model_dump())
                else:
                    state.out.print(f"started run {created.id}", highlight=False)
                    state.out.print(f"follow it with: toolmesh show {created.id} --follow", highlight=False)
                return
            if not as_json:
                state.out.print(f"started run {created.id}", highlight=False)
            _follow_and_exit(state, client, created.id, as_json=as_json, interval=interval)


def runs(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only runs with this status, e.g. Running.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs.", min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List runs, newest first."""
    state = cli_context(ctx)
    with reporting_errors(state.err), state.client() as client:
        found = client.list_runs(status=status, limit=limit)
        if as_json:
            print_json([item.model_dump() for item in found])
        else:
            state.out.print(render_runs(found))


def show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="ID", help="The run id.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep watching until it ends.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between polls.", min=0.1)] = DEFAULT_POLL_INTERVAL,
    timeline: Annotated[
        bool, typer.Option("--timeline", help="Show the run's model steps, tool calls and waits on one time axis.")
    ] = False,
) -> None:
    """Show a run: tasks, results, tool calls, pending approvals, usage, cost, report (or its timeline)."""
    state = cli_context(ctx)
    with reporting_errors(state.err), state.client() as client:
        if timeline:
            if as_json:
                print_json(client.get_timeline_raw(run_id))
            else:
                state.out.print(render_timeline(client.get_timeline(run_id)))
            return
        if follow:
            _follow_and_exit(state, client, run_id, as_json=as_json, interval=interval)
        if as_json:
            print_json(client.get_run_raw(run_id))
        else:
            state.out.print(render_run(client.get_run(run_id)))


def approve(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="ID", help="The run id.")],
    call_id: Annotated[str, typer.Argument(metavar="CALL", help="The call id waiting for approval.")],
    deny: Annotated[bool, typer.Option("--deny", help="Refuse the call instead.")] = False,
    comment: Annotated[str | None, typer.Option(help="Why (the model sees it).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Approve (or --deny) a tool call the run is waiting on."""
    state = cli_context(ctx)
    with reporting_errors(state.err), state.client() as client:
        answer = client.approve(run_id, call_id, approve=not deny, comment=comment)
        if as_json:
            print_json(answer or {"id": run_id, "call_id": call_id, "approve": not deny})
        else:
            verb = "denied" if deny else "approved"
            state.out.print(f"{verb} call {call_id} of run {run_id}", highlight=False)


def reply(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="ID", help="The run id.")],
    call_id: Annotated[str, typer.Argument(metavar="CALL", help="The call waiting for a reply.")],
    text: Annotated[str, typer.Argument(help="The reply.")],
    sender: Annotated[str | None, typer.Option("--from", help="Who replies (default: your user name).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Answer a message a run sent and is waiting on (e.g. through the mailbox tool)."""
    state = cli_context(ctx)
    with reporting_errors(state.err), state.client() as client:
        if not text.strip():
            raise ConfigError("the reply text is empty")
        answer = client.reply(run_id, call_id, reply=text, sender=sender or getpass.getuser())
        if as_json:
            print_json(answer or {"id": run_id, "call_id": call_id})
        else:
            state.out.print(f"replied to call {call_id} of run {run_id}", highlight=False)


def cancel(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="ID", help="The run id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Cancel a run (it stops at the next safe point and reports what it did)."""
    state = cli_context(ctx)
    with reporting_errors(state.err), state.client() as client:
        answer = client.cancel(run_id)
        if as_json:
            print_json(answer or {"id": run_id})
        else:
            state.out.print(f"cancelling run {run_id}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the run commands to the root app."""
    for command in (run, runs, show, approve, reply, cancel):
        app.command()(command)
