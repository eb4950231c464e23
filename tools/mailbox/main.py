"""The mailbox service: messages to people, with replies delivered to a callback.

``app`` is what uvicorn serves (``uvicorn tools.mailbox.main:app``); ``create_app`` builds
one with explicit settings for tests. What every tool service shares comes from
``tools.service_kit.app``: ``service_resources`` opens the logs and the database in the
lifespan, and ``install`` adds auth in the spec, errors, size limit, idempotency and the
access log. The lifespan also runs the worker that delivers replies to their callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from tools.service_kit import health
from tools.service_kit.app import install, service_resources, service_started
from tools.service_kit.telemetry import server_telemetry

from .callbacks import parse_origins
from .config import Settings, get_settings
from .delivery import Deliverer
from .routers import messages
from .store import MessageStore

__all__ = ["app", "create_app"]

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
        async with service_resources(app, settings) as db:
            store = MessageStore(db)
            app.state.store = store
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
            service_started(settings, callback_origins=[str(origin) for origin in allowed_origins])
            try:
                yield
            finally:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
                await client.aclose()

    app = FastAPI(
        title=TITLE, version=VERSION, description=DESCRIPTION, lifespan=lifespan, telemetry=server_telemetry()
    )
    app.include_router(health.router)
    app.include_router(messages.router)
    install(app, settings)
    app.state.allowed_origins = allowed_origins
    return app


app = create_app()
