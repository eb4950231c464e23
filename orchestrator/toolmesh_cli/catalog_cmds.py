"""``toolmesh tools``: the converted tool catalog as the orchestrator sees it, with sizes.

The group also carries ``convert`` (the spec converter, defined beside it in tools_cmd.py),
so everything about tools sits under one word. ``toolmesh tools`` alone lists the catalog and
``toolmesh tools NAME`` shows one tool.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from toolmesh_cli.context import cli_context, print_json, reporting_errors
from toolmesh_cli.render import render_catalog, render_tool

__all__ = ["tools_group"]


class _ToolsGroup(TyperGroup):
    """``toolmesh tools NAME`` is short for ``toolmesh tools show NAME``."""

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["show", *args]
        return super().resolve_command(ctx, args)


tools_group = typer.Typer(
    name="tools",
    cls=_ToolsGroup,
    help="The tool catalog (list, show NAME, reload) and the spec converter.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@tools_group.callback()
def _default(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="With no command: the catalog as JSON.")] = False,
) -> None:
    """List the catalog when no sub-command is given."""
    if ctx.invoked_subcommand is None:
        list_tools(ctx, as_json=as_json)


@tools_group.command("list")
def list_tools(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Every tool and function of the catalog with its size in characters and tokens."""
    state = cli_context(ctx)
    with reporting_errors(state.err), state.client() as client:
        catalog = client.tools()
        if as_json:
            print_json(catalog.model_dump())
        else:
            state.out.print(render_catalog(catalog))


@tools_group.command("show")
def show_tool(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The tool name, e.g. notes.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """One tool with the full JSON schema of each function."""
    state = cli_context(ctx)
    with reporting_errors(state.err), state.client() as client:
        tool = client.tool(name)
        if as_json:
            print_json(tool.model_dump())
        else:
            state.out.print(render_tool(tool))


@tools_group.command("reload")
def reload_tools(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Reload the registry and the specs on the server, and show the result."""
    state = cli_context(ctx)
    with reporting_errors(state.err), state.client() as client:
        catalog = client.reload_tools()
        if as_json:
            print_json(catalog.model_dump())
        else:
            state.out.print(render_catalog(catalog))
