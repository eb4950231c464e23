"""The issues service: an issue tracker (projects, issues, comments) for agents over HTTP.

``app`` is what uvicorn serves (``uvicorn tools.issues.main:app``); ``create_app`` builds
one with explicit settings for tests. Middleware, outermost first: JSON access log,
body size limit, Idempotency-Key replay; then the routers.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException

from .config import Settings, get_settings
from .database import Database
from .dependencies import authorize_headers
from .errors import IssuesError
from .idempotency import IdempotencyMiddleware, IdempotencyStore
from .logs import configure_logging, logger
from .middleware import AccessLogMiddleware, BodySizeLimitMiddleware
from .routers import health, issues, projects
from .store import IssueStore

__all__ = ["app", "create_app"]

TITLE = "toolmesh issues"
VERSION = "1.0.0"
DESCRIPTION = (
    "An issue tracker: projects, and issues with state, priority, assignee and labels. File issues, search "
    "them, comment, change them, and close or delete them (those two need a person's approval)."
)
SECURITY: list[dict[str, list[str]]] = [{"ApiKeyAuth": []}]


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The spec, with the API key applied globally and only /healthz left open."""
    if app.openapi_schema is None:
        schema = get_openapi(title=TITLE, version=VERSION, description=DESCRIPTION, routes=app.routes)
        schema["security"] = SECURITY
        for item in schema["paths"].values():
            for operation in item.values():
                if operation.get("security") == SECURITY:
                    del operation["security"]
        app.openapi_schema = schema
    return app.openapi_schema


def _allowed_methods(spec: dict[str, Any], path: str) -> list[str]:
    """The methods the spec documents for ``path``; a literal path wins over a template."""
    paths: dict[str, dict[str, Any]] = spec["paths"]
    if path in paths:
        return sorted(method.upper() for method in paths[path])
    methods: set[str] = set()
    for template, item in paths.items():
        if re.fullmatch(re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)), path):
            methods.update(method.upper() for method in item)
    return sorted(methods)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service; the database opens in the lifespan, not at import."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level)
        if settings.api_key is None:
            logger.warning("no API key configured: set ISSUES_API_KEY; every protected request gets 401")
        db = Database(settings.db)
        store = IssueStore(db)
        store.ensure_project(key=settings.default_project, name=settings.default_project_name)
        app.state.store = store
        app.state.idempotency = IdempotencyStore(db)
        logger.info("issues service started", extra={"db": str(settings.db)})
        try:
            yield
        finally:
            db.close()

    app = FastAPI(title=TITLE, version=VERSION, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings

    def authorize(headers: Headers) -> bool:
        return authorize_headers(settings, headers)

    app.state.authorize = authorize
    app.include_router(health.router)
    app.include_router(projects.router)
    app.include_router(issues.router)

    @app.exception_handler(IssuesError)
    async def issues_error(_: Request, exc: IssuesError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code)

    @app.exception_handler(405)
    async def method_not_allowed(request: Request, _: StarletteHTTPException) -> JSONResponse:
        """List every method the path supports in ``Allow``, not only those of the first route."""
        allowed = ", ".join(_allowed_methods(app.openapi(), request.url.path))
        return JSONResponse(
            {"detail": f"method {request.method} is not allowed on this path; allowed: {allowed}"},
            status_code=405,
            headers={"Allow": allowed},
        )

    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLogMiddleware)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


app = create_app()
