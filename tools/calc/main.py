"""The calc service: exact arithmetic and unit conversion over HTTP.

``app`` is what uvicorn serves (``uvicorn tools.calc.main:app``); ``create_app`` builds
one with explicit settings for tests. What every tool service shares comes from
``tools.service_kit.app``: ``service_resources`` opens the logs and the database in the
lifespan, and ``install`` adds auth in the spec, errors, size limit, idempotency and the
access log. The same operations are also MCP tools at ``/mcp`` (``mcp_tools``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tools.service_kit import health
from tools.service_kit.app import install, service_resources, service_started
from tools.service_kit.telemetry import server_telemetry

from .config import Settings, get_settings
from .mcp_endpoint import mcp_running, mount_mcp
from .mcp_tools import build_server
from .routers import calc
from .units import registry

__all__ = ["app", "create_app"]

TITLE = "toolmesh calc"
VERSION = "1.0.0"
DESCRIPTION = (
    "Exact arithmetic and unit conversion. Models make arithmetic mistakes; this service does not: "
    "it computes with exact fractions and says when a result had to be rounded."
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service; the database opens in the lifespan, not at import."""
    settings = settings or get_settings()
    mcp_server = build_server(DESCRIPTION)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_resources(app, settings), mcp_running(mcp_server):
            registry()  # building the unit registry takes a moment: do it before the first request
            service_started(settings)
            yield

    app = FastAPI(
        title=TITLE, version=VERSION, description=DESCRIPTION, lifespan=lifespan, telemetry=server_telemetry()
    )
    app.include_router(health.router)
    app.include_router(calc.router)
    install(app, settings)
    mount_mcp(app, mcp_server, settings)
    return app


app = create_app()
