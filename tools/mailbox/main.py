"""The mailbox service: messages to people, with replies delivered to a callback.

``app`` is what uvicorn serves (``uvicorn tools.mailbox.main:app``); ``create_app`` builds
one with explicit settings for tests. ``tools.service_kit.app.install`` adds what every tool service
shares (auth in the spec, errors, size limit, idempotency, logs). The lifespan also runs
the worker that delivers replies to their callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from tools.service_kit import health
from tools.service_kit.app import install, tune_garbage_collector
from tools.service_kit.database import Database
from tools.service_kit.dependencies import api_key_setting
from tools.service_kit.idempotency import IdempotencyStore
from tools.service_kit.logs import configure_logging

from .callbacks import parse_origins
from .config import Settings, get_settings
from .delivery import Deliverer
from .routers import messages
from .store import MessageStore

__all__ = ["app", "create_app"]

logger = logging.getLogger(__name__)

TITLE = "toolmesh mailbox"
VERSION = "1.0.0"
DESCRIPTION = (
    "Send a message to a person and get their reply: sendMessage takes a callback_url, and when the person "
    "replies the reply is POSTed there. Use it to ask a person a question and wait, even for days, for the "
    "answer."
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service; the database opens in the lifespan, not at import."""
    settings = settings or get_settings()
    allowed_origins = parse_origins(settings.callback_allowed_origins)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service, settings.log_level)
        if settings.api_key is None:
            logger.warning(
                f"no API key configured: set {api_key_setting(settings)}; every protected request gets 401"
            )
        db = Database(settings.db)
        store = MessageStore(db)
        app.state.store = store
        app.state.idempotency = IdempotencyStore(db)
        client = httpx.AsyncClient(timeout=settings.delivery_timeout, follow_redirects=False, trust_env=False)
        deliverer = Deliverer(
            store,
            client,
            allowed=allowed_origins,
            initial_backoff=settings.delivery_initial_backoff,
            max_backoff=settings.delivery_max_backoff,
        )
        app.state.deliverer = deliverer
        worker = asyncio.create_task(deliverer.run(), name="mailbox-delivery")
        origins = [str(origin) for origin in allowed_origins]
        tune_garbage_collector()
        logger.info("mailbox service started", extra={"db": str(settings.db), "callback_origins": origins})
        try:
            yield
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            await client.aclose()
            db.close()

    app = FastAPI(title=TITLE, version=VERSION, description=DESCRIPTION, lifespan=lifespan)
    app.include_router(health.router)
    app.include_router(messages.router)
    install(app, settings)
    app.state.allowed_origins = allowed_origins
    return app


app = create_app()
