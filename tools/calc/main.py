"""The calc service: exact arithmetic and unit conversion over HTTP.

``app`` is what uvicorn serves (``uvicorn tools.calc.main:app``); ``create_app`` builds
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
from .routers import calc
from .units import registry

__all__ = ["app", "create_app"]

logger = logging.getLogger(__name__)

TITLE = "toolmesh calc"
VERSION = "1.0.0"
DESCRIPTION = (
    "Exact arithmetic and unit conversion. Models make arithmetic mistakes; this service does not: "
    "it computes with exact fractions and says when a result had to be rounded."
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
        registry()  # building the unit registry takes a moment: do it before the first request
        app.state.idempotency = IdempotencyStore(db)
        tune_garbage_collector()
        logger.info("calc service started", extra={"db": str(settings.db)})
        try:
            yield
        finally:
            db.close()

    app = FastAPI(title=TITLE, version=VERSION, description=DESCRIPTION, lifespan=lifespan)
    app.include_router(health.router)
    app.include_router(calc.router)
    install(app, settings)
    return app


app = create_app()
