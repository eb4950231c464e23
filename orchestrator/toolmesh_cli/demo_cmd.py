"""``toolmesh demo``: one whole agent run through every service, from a cold start to a report.

It starts the tools, the gateway and the local durable host on free loopback ports in a fresh
state directory, submits an objective over HTTP, follows the run while it polls, and once the
first task is done sends the run a message (a person asking for one more thing, which the run
then does). It prints the final report and the conversation, and stops everything again,
whatever happens.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from toolmesh_cli.client import ApiClient
from toolmesh_cli.config import ApiTarget
from toolmesh_cli.context import cli_context, reporting_errors
from toolmesh_cli.errors import ApiError
from toolmesh_cli.follow import follow_run
from toolmesh_cli.mesh import MeshPorts, start_mesh
from toolmesh_cli.render import exit_code_for, render_run
from toolmesh_cli.talk_cmds import conversation_lines

__all__ = ["DEMO_MESSAGE", "DEMO_OBJECTIVE", "register"]

DEMO_OBJECTIVE = (
    "Calculate 12 * 49.90 for the licence budget. "
    "Write a note with the licence budget result. "
    "File an issue to order the 12 licences."
)
DEMO_AUTHOR = "Dana"
DEMO_MESSAGE = "Also list the open issues once the order is filed"


def _message_mid_run(client: ApiClient, run_id: str, out: Console, message: str) -> None:
    """Wait for the first finished task, then send ``message`` as a person watching the run would."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = client.get_run(run_id)
        if run.finished:
            out.print("the run finished before the message could be sent", highlight=False)
            return
        if run.progress is not None and run.progress.done:
            break
        time.sleep(0.05)
    try:
        client.say(run_id, author=DEMO_AUTHOR, text=message)
    except ApiError as exc:
        out.print(f"the message was not taken: {exc}", highlight=False, markup=False)
        return
    out.print(f"{DEMO_AUTHOR} says: {message}", highlight=False, markup=False)


def demo(
    ctx: typer.Context,
    objective: Annotated[str, typer.Option(help="The objective to run.")] = DEMO_OBJECTIVE,
    message: Annotated[
        str, typer.Option(help="What a person tells the run once its first task is done ('' sends nothing).")
    ] = DEMO_MESSAGE,
    max_iterations: Annotated[int, typer.Option(help="Budget: loop iterations.")] = 8,
    keep: Annotated[bool, typer.Option(help="Keep the state directory (logs, SQLite files).")] = False,
) -> None:
    """Start the local mesh, run one objective end to end with live progress, print the report, stop."""
    state = cli_context(ctx)
    state_dir = Path(tempfile.mkdtemp(prefix="toolmesh-demo-"))
    out = state.out
    out.print(f"starting the mesh (gateway, notes, issues, calc, mailbox, durable host); state in {state_dir}")
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
            if message:
                _message_mid_run(client, created.id, out, message)
            run = follow_run(client, created.id, console=out, interval=0.2, live=False)
            out.print(render_run(run))
            out.print("conversation:", highlight=False)
            for line in conversation_lines(client, created.id):
                out.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
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
