"""The ``toolmesh`` command: run agents and watch them, manage the local mesh, browse tools.

Exit codes (for scripts): 0 completed, 1 failed or terminated (or the mesh failed),
2 usage or connection errors, 3 cancelled, 130 detached with Ctrl-C while following.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from toolmesh_cli import demo_cmd, mcp_cmd, mesh_cmds, network_cmds, runs_cmds, talk_cmds
from toolmesh_cli.catalog_cmds import tools_group
from toolmesh_cli.config import get_settings, resolve_target
from toolmesh_cli.context import CliContext, reporting_errors
from toolmesh_cli.tools_cmd import tools_app

__all__ = ["app"]

app = typer.Typer(
    help="toolmesh: run agents with OpenAPI tools, watch and steer them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    url: Annotated[
        str | None, typer.Option(help="API base URL (env TOOLMESH_URL; default http://127.0.0.1:7071).")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            help="Function key (env TOOLMESH_FUNCTIONS_KEY; default: the local mesh key file).",
            show_default=False,
        ),
    ] = None,
    state_dir: Annotated[
        Path | None, typer.Option(help="Local mesh state dir (env TOOLMESH_STATE_DIR; default ./.toolmesh).")
    ] = None,
) -> None:
    err = Console(stderr=True, soft_wrap=True)
    settings = get_settings()
    with reporting_errors(err):
        target = resolve_target(url=url, key=key, state_dir=state_dir, settings=settings)
    ctx.obj = CliContext(target=target, state_dir=state_dir or settings.state_dir, out=Console(soft_wrap=True), err=err)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo("toolmesh 0.1.0")


runs_cmds.register(app)
talk_cmds.register(app)
network_cmds.register(app)
mesh_cmds.register(app)
demo_cmd.register(app)
mcp_cmd.register(app)
# `tools convert` (the spec converter) joins the catalog commands in one group.
tools_group.registered_commands.extend(tools_app.registered_commands)
app.add_typer(tools_group, name="tools")

if __name__ == "__main__":
    app()
