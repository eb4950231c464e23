"""Commands about agents, outside events and schedules: ``agents``, ``event``, ``schedules``."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from toolmesh_cli.context import cli_context, print_json, reporting_errors
from toolmesh_cli.errors import ConfigError
from toolmesh_cli.render import render_agents, render_schedules

__all__ = ["register", "schedules_app"]

schedules_app = typer.Typer(
    name="schedules",
    help="Runs started on a cron schedule: list, add, show, pause, resume, delete.",
    invoke_without_command=True,
    no_args_is_help=False,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{what} must be a JSON object")
    return value


def agents(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The agents and networks runs may name (specs/agents.yaml), with any invalid entry."""
    state = cli_context(ctx)
    with reporting_errors(state.err), state.client() as client:
        config = client.agents()
        if as_json:
            print_json(config)
        else:
            state.out.print(render_agents(config))


def event(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The event name, e.g. developer.response.")],
    data: Annotated[str, typer.Argument(help='The event data as a JSON object, e.g. \'{"ticketId": "T-1"}\'.')] = "{}",
    keep_seconds: Annotated[
        int | None, typer.Option(help="How long it waits for runs that start waiting later (default: server's).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Post an outside event: every run waiting for it whose match holds resumes."""
    state = cli_context(ctx)
    with reporting_errors(state.err), state.client() as client:
        answer = client.post_event(name, _json_object(data, "the event data"), keep_seconds)
        if as_json:
            print_json(answer)
            return
        reached = answer.get("delivered_to") or []
        state.out.print(
            f"event {answer.get('event_id')} delivered to {len(reached)} wait(s)"
            + "".join(f"\n  {r['run_id']} ({r['wait_id']})" for r in reached)
            + (f"\nkept until {answer['kept_until']} for waits that start later" if answer.get("kept_until") else ""),
            highlight=False,
            markup=False,
        )


@schedules_app.callback()
def _list_by_default(ctx: typer.Context, as_json: JsonOption = False) -> None:
    if ctx.invoked_subcommand is None:
        list_schedules(ctx, as_json=as_json)


@schedules_app.command("list")
def list_schedules(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The schedules, with their next tick and how many runs they started."""
    state = cli_context(ctx)
    with reporting_errors(state.err), state.client() as client:
        found = client.schedules()
        if as_json:
            print_json([item.model_dump() for item in found])
        else:
            state.out.print(render_schedules(found))


@schedules_app.command("add")
def add_schedule(
    ctx: typer.Context,
    cron: Annotated[str, typer.Argument(help="Five cron fields (or six, seconds last), e.g. '0 9 * * 1-5'.")],
    objective: Annotated[str, typer.Argument(help="The objective of each run.")],
    schedule_id: Annotated[str | None, typer.Option("--id", help="A name for the schedule.")] = None,
    run: Annotated[
        str | None, typer.Option(help="More of the run body as JSON (agent, network, inputs, budgets...).")
    ] = None,
    paused: Annotated[bool, typer.Option(help="Create it paused.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Start runs with OBJECTIVE on the CRON schedule."""
    state = cli_context(ctx)
    with reporting_errors(state.err), state.client() as client:
        body: dict[str, Any] = {
            "cron": cron,
            "run": {**(_json_object(run, "--run") if run else {}), "objective": objective},
            "paused": paused,
        }
        if schedule_id:
            body["id"] = schedule_id
        answer = client.create_schedule(body)
        if as_json:
            print_json(answer)
        else:
            state.out.print(f"schedule {answer['id']} created ({cron})", highlight=False, markup=False)


@schedules_app.command("show")
def show_schedule(
    ctx: typer.Context, schedule_id: Annotated[str, typer.Argument(metavar="ID")], as_json: JsonOption = False
) -> None:
    state = cli_context(ctx)
    with reporting_errors(state.err), state.client() as client:
        found = client.schedule(schedule_id)
        if as_json:
            print_json(found.model_dump())
        else:
            state.out.print(render_schedules([found]))


def _control(ctx: typer.Context, schedule_id: str, action: str) -> None:
    state = cli_context(ctx)
    with reporting_errors(state.err), state.client() as client:
        client.control_schedule(schedule_id, action)
        state.out.print(f"schedule {schedule_id}: {action} requested", highlight=False, markup=False)


@schedules_app.command("pause")
def pause_schedule(ctx: typer.Context, schedule_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Start no runs until resumed."""
    _control(ctx, schedule_id, "pause")


@schedules_app.command("resume")
def resume_schedule(ctx: typer.Context, schedule_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    _control(ctx, schedule_id, "resume")


@schedules_app.command("delete")
def delete_schedule(ctx: typer.Context, schedule_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Stop the schedule; runs it started go on."""
    _control(ctx, schedule_id, "delete")


def register(app: typer.Typer) -> None:
    app.command()(agents)
    app.command()(event)
    app.add_typer(schedules_app, name="schedules")
