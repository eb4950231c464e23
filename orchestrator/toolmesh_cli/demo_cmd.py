"""``toolmesh demo``: one whole agent run through every service, from a cold start to a report.

It starts the tools, the gateway and the local durable host on free loopback ports in a fresh
state directory, submits an objective over HTTP, follows the run while it polls, prints the final
report and stops everything again, whatever happens.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from toolmesh_cli.client import ApiClient
from toolmesh_cli.config import ApiTarget
from toolmesh_cli.context import cli_context, reporting_errors
from toolmesh_cli.follow import follow_run
from toolmesh_cli.mesh import MeshPorts, start_mesh
from toolmesh_cli.render import exit_code_for, render_run

__all__ = ["DEMO_OBJECTIVE", "register"]

DEMO_OBJECTIVE = (
    "Calculate 12 * 49.90 for the licence budget. "
    "Write a note with the licence budget result. "
    "File an issue to order the 12 licences."
)


def demo(
    ctx: typer.Context,
    objective: Annotated[str, typer.Option(help="The objective to run.")] = DEMO_OBJECTIVE,
    max_iterations: Annotated[int, typer.Option(help="Budget: loop iterations.")] = 8,
    keep: Annotated[bool, typer.Option(help="Keep the state directory (logs, SQLite files).")] = False,
) -> None:
    """Start the local mesh, run one objective end to end with live progress, print the report, stop."""
    state = cli_context(ctx)
    state_dir = Path(tempfile.mkdtemp(prefix="toolmesh-demo-"))
    out = state.out
    out.print(
        f"starting the mesh (gateway, notes, issues, calc, mailbox, durable host); state in {state_dir}"
    )
    with reporting_errors(state.err):
        mesh = start_mesh(state_dir, ports=MeshPorts.free())
    try:
        for service in mesh.services:
            out.print(f"  {service.name:<8} {service.url}", highlight=False)
        with ApiClient(ApiTarget(url=mesh.url, key=mesh.functions_key)) as client:
            catalog = client.tools()
            functions = sum(len(tool.functions) for tool in catalog.tools)
            out.print(f"tool catalog: {len(catalog.tools)} tools, {functions} functions", highlight=False)
            body = {"objective": objective, "budgets": {"max_iterations": max_iterations}}
            created = client.start_run(body)
            out.print(f"run {created.id} started: {objective}", highlight=False, markup=False)
            run = follow_run(client, created.id, console=out, interval=0.2, live=False)
            out.print(render_run(run))
    finally:
        mesh.stop()
        out.print("mesh stopped")
        if not keep:
            shutil.rmtree(state_dir, ignore_errors=True)
        else:
            out.print(f"state kept in {state_dir}")
    raise typer.Exit(exit_code_for(run))


def register(app: typer.Typer) -> None:
    app.command()(demo)
