"""Command line entry point."""

import typer

app = typer.Typer(help="toolmesh: run agents with OpenAPI tools.")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo("toolmesh 0.1.0")
