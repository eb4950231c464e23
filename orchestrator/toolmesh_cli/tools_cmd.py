"""`toolmesh tools ...`: see exactly what the model will see for a spec."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from openapi_engine import SpecLoadError, load_and_convert

__all__ = ["tools_app"]

tools_app = typer.Typer(help="Inspect OpenAPI specs as function-calling tools.", no_args_is_help=True)


@tools_app.callback()
def _group() -> None:
    """Inspect OpenAPI specs as function-calling tools."""


@tools_app.command("convert")
def convert(
    spec: Annotated[str, typer.Argument(help="Spec file or http(s) URL, e.g. a service's /openapi.json.")],
    strict: Annotated[bool, typer.Option("--strict", help="Emit strict schemas where possible.")] = False,
) -> None:
    """Print the spec's OpenAI tool objects as a JSON array; skipped operations go to stderr."""
    try:
        converted = load_and_convert(spec)
    except SpecLoadError as exc:
        typer.echo(f"error: cannot load spec: {exc}", err=True)
        raise typer.Exit(2) from None
    for problem in converted.problems:
        typer.echo(f"skipped: {problem}", err=True)
    if strict:
        for fn in converted.functions:
            if fn.strict_parameters is None:
                typer.echo(f"not strict: {fn.name}: {fn.strict_reason}", err=True)
    tools = [fn.openai_tool(strict=strict) for fn in converted.functions]
    if converted.functions:
        sizes = sorted(fn.size_chars for fn in converted.functions)
        typer.echo(
            f"{len(sizes)} tools, about {sum(fn.approx_tokens for fn in converted.functions)} tokens in all; "
            f"largest {sizes[-1]} characters, median {sizes[len(sizes) // 2]}",
            err=True,
        )
    typer.echo(json.dumps(tools, indent=2, ensure_ascii=False))
