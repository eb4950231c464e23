"""``toolmesh mcp``: the configuration an MCP client needs to drive runs through ``/api/mcp``
(and, with ``--tools``, to call the catalog's tools through ``/api/mcp/tools``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from toolmesh_cli.context import cli_context, print_json

__all__ = ["mcp_config", "register"]

KEY_HEADER = "x-functions-key"
KEY_PLACEHOLDER = "${TOOLMESH_FUNCTIONS_KEY}"


def mcp_config(url: str, key: str | None, *, name: str = "toolmesh", tools: bool = False) -> dict[str, Any]:
    """``mcpServers`` entries (the form desktop and IDE clients read) for the app at ``url``: the run
    API, and with ``tools`` the catalog's tools as ``<name>-tools``."""
    paths = {name: "/api/mcp", **({f"{name}-tools": "/api/mcp/tools"} if tools else {})}
    return {
        "mcpServers": {
            server: {"type": "http", "url": f"{url.rstrip('/')}{path}", "headers": {KEY_HEADER: key or KEY_PLACEHOLDER}}
            for server, path in paths.items()
        }
    }


def mcp(
    ctx: typer.Context,
    show_key: Annotated[
        bool, typer.Option("--show-key", help="Write the function key itself instead of a placeholder.")
    ] = False,
    name: Annotated[str, typer.Option(help="The server's name in the client's configuration.")] = "toolmesh",
    tools: Annotated[
        bool, typer.Option("--tools", help="Also the catalog's tools that need no person, as NAME-tools.")
    ] = False,
) -> None:
    """Print the configuration an MCP client needs to start, follow, approve and cancel runs.

    The key is a placeholder unless --show-key is given, so the snippet can be pasted where
    others may read it; clients that expand environment variables fill it in themselves.
    """
    target = cli_context(ctx).target
    print_json(mcp_config(target.url, target.key if show_key else None, name=name, tools=tools))


def register(app: typer.Typer) -> None:
    app.command()(mcp)
