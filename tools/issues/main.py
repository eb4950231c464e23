"""The issues service: an issue tracker (projects, issues, comments) for agents over HTTP.

``app`` is what uvicorn serves (``uvicorn tools.issues.main:app``); ``create_app`` builds
one with explicit settings for tests. ``tools.service_kit.app.install`` adds what every tool service
shares (auth in the spec, errors, size limit, idempotency, logs).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tools.service_kit import health
from tools.service_kit.app import install, tune_garbage_collector
from tools.service_kit.database import Database
from tools.service_kit.dependencies import api_key_setting
from tools.service_kit.idempotency import IdempotencyStore
from tools.service_kit.logs import configure_logging

from .config import Settings, get_settings
from .routers import issues, projects
from .store import IssueStore

__all__ = ["app", "create_app"]

logger = logging.getLogger(__name__)

TITLE = "toolmesh issues"
VERSION = "1.0.0"
DESCRIPTION = (
    "An issue tracker: projects, and issues with state, priority, assignee and labels. File issues, search "
    "them, comment, change them, and close or delete them (those two need a person's approval)."
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service; the database opens in the lifespan, not at import."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service, settings.log_level)
        if settings.api_key is None:
            logger.warning(
                f"no API key configured: set {api_key_setting(settings)}; every protected request gets 401"
            )
        db = Database(settings.db)
        store = IssueStore(db)
        store.ensure_project(key=settings.default_project, name=settings.default_project_name)
        app.state.store = store
        app.state.idempotency = IdempotencyStore(db)
        tune_garbage_collector()
        logger.info("issues service started", extra={"db": str(settings.db)})
        try:
            yield
        finally:
            db.close()

    app = FastAPI(title=TITLE, version=VERSION, description=DESCRIPTION, lifespan=lifespan)
    app.include_router(health.router)
    app.include_router(projects.router)
    app.include_router(issues.router)
    install(app, settings)
    return app


app = create_app()
