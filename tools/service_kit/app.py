"""What every tool service's app needs besides its own routes, in one call: ``install``.

It wires the middleware (outermost first: JSON access log, body size limit,
Idempotency-Key replay), turns the service's errors into ``{"detail": ...}`` answers,
lists every allowed method on a 405, and shapes the spec: the API key scheme applies
globally and only ``/healthz`` is open. A service's lifespan opens what every service
needs with ``service_resources`` and ends its start-up with ``service_started``.
"""

from __future__ import annotations

import functools
import gc
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException

from .database import Database
from .dependencies import api_key_setting, authorize_headers
from .errors import ServiceError
from .idempotency import IdempotencyMiddleware, IdempotencyStore
from .logs import configure_logging, service_logger
from .middleware import AccessLogMiddleware, BodySizeLimitMiddleware
from .settings import ServiceSettings
from .telemetry import instrument_app

__all__ = [
    "GC_THRESHOLDS",
    "allowed_methods",
    "install",
    "service_resources",
    "service_started",
    "tune_garbage_collector",
]

SECURITY: list[dict[str, list[str]]] = [{"ApiKeyAuth": []}]
GC_THRESHOLDS = (50_000, 20, 10)
"""Allocations before a young collection, and young (then middle) collections before an older one."""


@functools.cache
def tune_garbage_collector() -> None:
    """Once start-up is done, stop re-scanning the objects that live as long as the process.

    A full collection walks every tracked object, and after start-up that is 100k or more
    (modules, classes, the app, its routes and schemas) that never become garbage: under load
    each full collection stopped the event loop for about 100 ms, and every request in flight
    waited. Freezing them takes them out of every later collection; a larger first-generation
    threshold makes collections rarer, since reference counting frees nearly every object and
    the collector only has cycles left to find. Later calls in the same process do nothing.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def allowed_methods(spec: dict[str, Any], path: str) -> list[str]:
    """The methods the spec documents for ``path``; a literal path wins over a template."""
    paths: dict[str, dict[str, Any]] = spec["paths"]
    if path in paths:
        return sorted(method.upper() for method in paths[path])
    methods: set[str] = set()
    for template, item in paths.items():
        if re.fullmatch(re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)), path):
            methods.update(method.upper() for method in item)
    return sorted(methods)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The spec, with the API key applied globally and only /healthz left open."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema["security"] = SECURITY
        for item in schema["paths"].values():
            for operation in item.values():
                if operation.get("security") == SECURITY:
                    del operation["security"]
        app.openapi_schema = schema
    return app.openapi_schema


def install(app: FastAPI, settings: ServiceSettings) -> None:
    """Add the shared behaviour to ``app``; call it after including the routers."""
    app.state.settings = settings

    def authorize(headers: Headers) -> bool:
        return authorize_headers(settings, headers)

    app.state.authorize = authorize

    @app.exception_handler(ServiceError)
    async def service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code)

    @app.exception_handler(405)
    async def method_not_allowed(request: Request, _: StarletteHTTPException) -> JSONResponse:
        """List every method the path supports in ``Allow``, not only those of the first route."""
        allowed = ", ".join(allowed_methods(app.openapi(), request.url.path))
        return JSONResponse(
            {"detail": f"method {request.method} is not allowed on this path; allowed: {allowed}"},
            status_code=405,
            headers={"Allow": allowed},
        )

    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLogMiddleware, logger=service_logger(settings.service))
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    instrument_app(app, settings.service)


@asynccontextmanager
async def service_resources(app: FastAPI, settings: ServiceSettings) -> AsyncIterator[Database]:
    """What a service's lifespan opens first: JSON logs, the database and its Idempotency-Key records.

    Without an API key the service still starts, closed (every protected request gets 401),
    and says so in its log. The database closes when the block ends, after whatever the
    service stopped inside it.
    """
    configure_logging(settings.service, settings.log_level)
    if settings.api_key is None:
        service_logger(settings.service).warning(
            f"no API key configured: set {api_key_setting(settings)}; every protected request gets 401"
        )
    db = Database(settings.db)
    app.state.idempotency = IdempotencyStore(db)
    try:
        yield db
    finally:
        db.close()


def service_started(settings: ServiceSettings, **details: object) -> None:
    """End a service's start-up: stop re-scanning what it built, and log that it runs."""
    tune_garbage_collector()
    service_logger(settings.service).info(
        f"{settings.service} service started", extra={"db": str(settings.db), **details}
    )
