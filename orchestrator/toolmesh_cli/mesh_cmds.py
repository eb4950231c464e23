"""Commands for the local mesh: ``up``, ``restart``, ``down`` and ``status`` (state kept in the state dir)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from toolmesh_cli.config import DEFAULT_URL
from toolmesh_cli.context import CliContext, cli_context, print_json, reporting_errors
from toolmesh_cli.errors import ServiceStartError
from toolmesh_cli.mesh import (
    DEFAULT_START_TIMEOUT,
    Mesh,
    MeshPorts,
    load_mesh,
    log_tail,
    restart_services,
    service_states,
    start_mesh,
)
from toolmesh_cli.render import EXIT_FAILED

__all__ = ["register"]


def up(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port of the host (the API and console).", min=1, max=65535)] = 7071,
    auto_ports: Annotated[
        bool, typer.Option("--auto-ports", help="Pick free ports for the gateway and the tools.")
    ] = False,
    tool: Annotated[
        list[str],
        typer.Option("--tool", help="Start only these tool services (repeatable; default all, or the recorded ones)."),
    ] = [],  # noqa: B006
    timeout: Annotated[float, typer.Option(help="Seconds each service may take to start.")] = DEFAULT_START_TIMEOUT,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Start the local mesh in the background: tools, LLM gateway, then the durable host.

    Run again, it keeps the services that still run and starts those that stopped or crashed,
    on their ports and with their data; --port and --auto-ports apply to a mesh not yet recorded.
    """
    state = cli_context(ctx)
    with reporting_errors(state.err):
        ports = MeshPorts.free(host=port) if auto_ports else MeshPorts(host=port)
        with _showing_start_failure(state.err):
            mesh = start_mesh(state.state_dir, ports=ports, tools=tool or None, timeout=timeout)
        _print_mesh(state, mesh, as_json, f"toolmesh mesh up ({mesh.state_dir})")


def restart(
    ctx: typer.Context,
    service: Annotated[
        list[str] | None, typer.Argument(help="Services to restart: host, gateway or a tool (default: all).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds each service may take to start.")] = DEFAULT_START_TIMEOUT,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Restart some services of the local mesh (or all) on their ports, keeping their data and keys."""
    state = cli_context(ctx)
    with reporting_errors(state.err):
        with _showing_start_failure(state.err):
            mesh = restart_services(state.state_dir, service or [], timeout=timeout)
        _print_mesh(state, mesh, as_json, f"toolmesh mesh restarted ({mesh.state_dir})")


@contextmanager
def _showing_start_failure(err: Console) -> Iterator[None]:
    """Show the end of the log of a service that did not start, then let the error through."""
    try:
        yield
    except ServiceStartError as exc:
        tail = log_tail(exc.log_path)
        if tail:
            err.print(f"last lines of {exc.log_path}:\n{tail}", highlight=False, markup=False)
        raise


def _print_mesh(state: CliContext, mesh: Mesh, as_json: bool, title: str) -> None:
    if as_json:
        print_json({"url": mesh.url, "state_dir": str(mesh.state_dir), "adopted": list(mesh.adopted), **mesh.to_dict()})
        return
    table = Table(title=Text(title))
    for column in ("service", "url", "pid", "state", "log"):
        table.add_column(column)
    for record in mesh.services:
        kept = "kept running" if record.name in mesh.adopted else "started"
        table.add_row(*(Text(v) for v in (record.name, record.url, str(record.pid), kept, record.log_path)))
    state.out.print(table)
    state.out.print(f"console: {mesh.url}/console", highlight=False)
    if mesh.url != DEFAULT_URL:
        state.out.print(f"point the CLI at it: export TOOLMESH_URL={mesh.url}", highlight=False)
    state.out.print("stop it with: toolmesh down", highlight=False)


def down(
    ctx: typer.Context,
    timeout: Annotated[float, typer.Option(help="Seconds to wait before SIGKILL.")] = 15.0,
) -> None:
    """Stop the local mesh started with ``toolmesh up``."""
    state = cli_context(ctx)
    with reporting_errors(state.err):
        mesh = load_mesh(state.state_dir)
        if mesh is None:
            state.out.print(f"no mesh recorded in {state.state_dir}; nothing to stop", highlight=False)
            return
        mesh.stop(timeout)
        state.out.print(f"stopped {len(mesh.services)} services", highlight=False)


def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show what runs where; exit 1 when the mesh is not fully up."""
    state = cli_context(ctx)
    with reporting_errors(state.err):
        mesh = load_mesh(state.state_dir)
        if mesh is None:
            if as_json:
                print_json({"running": False, "services": []})
            else:
                state.out.print(f"no mesh recorded in {state.state_dir} (`toolmesh up` starts one)")
            raise typer.Exit(EXIT_FAILED)
        states = service_states(mesh)
        healthy = all(s.healthy for s in states)
        if as_json:
            print_json({"running": healthy, "services": [vars(s) for s in states]})
        else:
            table = Table(title=Text(f"toolmesh mesh ({mesh.state_dir})"))
            for column in ("service", "url", "pid", "state", "log"):
                table.add_column(column)
            for item in states:
                label = "healthy" if item.healthy else ("not answering" if item.alive else "stopped")
                style = "green" if item.healthy else "red"
                table.add_row(
                    Text(item.name),
                    Text(item.url),
                    Text(str(item.pid)),
                    Text(label, style=style),
                    Text(item.log_path),
                )
            state.out.print(table)
            state.out.print(f"console: {mesh.url}/console", highlight=False)
        if not healthy:
            raise typer.Exit(EXIT_FAILED)


def register(app: typer.Typer) -> None:
    """Add the mesh commands to the root app."""
    for command in (up, restart, down, status):
        app.command()(command)
