"""The notes service: the agent's long-term memory over HTTP.

``app`` is what uvicorn serves (``uvicorn tools.notes.main:app``); ``create_app`` builds
one with explicit settings for tests. What every tool service shares comes from
``tools.service_kit.app``: ``service_resources`` opens the logs and the database in the
lifespan, and ``install`` adds auth in the spec, errors, size limit, idempotency and the
access log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tools.service_kit import health
from tools.service_kit.app import install, service_resources, service_started
from tools.service_kit.telemetry import server_telemetry

from .config import Settings, get_settings
from .routers import notes
from .store import NoteStore

__all__ = ["app", "create_app"]

TITLE = "toolmesh notes"
VERSION = "1.0.0"
DESCRIPTION = (
    "Long-term memory for an agent: save notes, then find them again by words (ranked full-text search), "
    "by tag or by run. Notes written during one agent run share its run_id."
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service; the database opens in the lifespan, not at import."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_resources(app, settings) as db:
            app.state.store = NoteStore(db)
            service_started(settings)
            yield

    app = FastAPI(
        title=TITLE, version=VERSION, description=DESCRIPTION, lifespan=lifespan, telemetry=server_telemetry()
    )
    app.include_router(health.router)
    app.include_router(notes.router)
    install(app, settings)
    return app


app = create_app()
