"""What every command shares: the resolved target, the consoles, and errors mapped to exit codes.

Commands stay short: they call the client inside ``reporting_errors()`` and print. The
mapping from the error tree to exit codes lives here only (2: usage or connection, 1: the
mesh or a run failed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from toolmesh_cli.client import ApiClient
from toolmesh_cli.config import ApiTarget
from toolmesh_cli.errors import ApiConnectionError, ApiError, ConfigError, MeshError, ToolmeshCliError
from toolmesh_cli.render import EXIT_FAILED, EXIT_USAGE

__all__ = ["CliContext", "cli_context", "print_json", "reporting_errors"]


@dataclass(frozen=True, kw_only=True)
class CliContext:
    """Options of the root command, handed to every sub-command through ``ctx.obj``."""

    target: ApiTarget
    state_dir: Path
    out: Console
    err: Console

    def client(self) -> ApiClient:
        return ApiClient(self.target)


def cli_context(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):
        raise RuntimeError("the root callback did not run")
    return obj


def print_json(data: Any) -> None:
    """Machine-readable output: one JSON document on stdout, nothing else."""
    typer.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


@contextmanager
def reporting_errors(err: Console) -> Iterator[None]:
    """Turn the CLI's errors into a one-line message on stderr and an exit code."""
    try:
        yield
    except (ApiError, ApiConnectionError, ConfigError) as exc:
        err.print(f"error: {exc}", style="red", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from exc
    except MeshError as exc:
        err.print(f"error: {exc}", style="red", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_FAILED) from exc
    except ToolmeshCliError as exc:
        err.print(f"error: {exc}", style="red", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from exc
