"""The gateway's FastAPI app: ``uvicorn llm_gateway.main:app``.

Agents and the orchestrator talk to it with a plain OpenAI client; it holds the provider
credentials, routes model aliases to deployments with retries and fallback, enforces per-key
limits and logs usage per key, model and run.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from llm_gateway.config import get_settings
from llm_gateway.errors import GatewayError
from llm_gateway.gc_tuning import tune_garbage_collector
from llm_gateway.logs import configure_logging
from llm_gateway.routers import chat, embeddings, health, models, usage
from llm_gateway.schemas import ChatCompletionRequest, EmbeddingRequest
from llm_gateway.state import build_state
from tools.service_kit.telemetry import instrument_app, server_telemetry

__all__ = ["app", "create_app"]

log = logging.getLogger("llm_gateway")
VERSION = "0.1.0"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    configure_logging(settings.log_level)
    state = build_state(settings)
    state.usage.start()
    app.state.gateway = state
    tune_garbage_collector()
    log.info("gateway ready", extra={"aliases": sorted(state.router.routes), "db": str(settings.db)})
    try:
        yield
    finally:
        await state.aclose()


def _error(
    status: int,
    message: str,
    *,
    error_type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


async def _gateway_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatewayError)
    if exc.status_code >= 500:
        log.warning(
            "request failed",
            extra={"path": request.url.path, "status": exc.status_code, "error": exc.message},
        )
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers())


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    location = ".".join(str(p) for p in first["loc"][1:]) or None
    return _error(400, f"Invalid value for '{location}': {first['msg']}.", param=location, code="invalid_value")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return _error(404, f"Invalid URL ({request.method} {request.url.path})")
    if exc.status_code == 405:  # Starlette names the allowed methods in the Allow header
        message = f"Method {request.method} is not allowed for {request.url.path}"
        return _error(405, message, headers=dict(exc.headers or {}))
    return _error(exc.status_code, str(exc.detail))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error", exc_info=exc, extra={"path": request.url.path})
    return _error(500, "The server had an error while processing your request.", error_type="server_error")


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for path in schema["paths"].values():  # invalid parameters are answered 400 in OpenAI's shape, never 422
        for operation in path.values():
            if operation["responses"].pop("422", None) is not None:
                operation["responses"].setdefault(
                    "400",
                    {
                        "description": "Invalid parameter.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
                    },
                )
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    # Declared so a tool registry can inject the key (agents calling the model as a tool never see it).
    schema["components"]["securitySchemes"] = {
        "BearerAuth": {"type": "http", "scheme": "bearer", "description": "A gateway client key."}
    }
    for route, path in schema["paths"].items():
        if route.startswith("/v1/"):
            for operation in path.values():
                operation["security"] = [{"BearerAuth": []}]
    for model in (ChatCompletionRequest, EmbeddingRequest):
        definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(definition.pop("$defs", {}))
        components[model.__name__] = definition
    app.openapi_schema = schema
    return schema


def create_app() -> FastAPI:
    app = FastAPI(
        title="toolmesh LLM gateway",
        version=VERSION,
        description="OpenAI-compatible front for every model toolmesh uses: chat completions (tools, JSON "
        "mode, "
        "streaming), embeddings, model aliases with retries and fallback, per-key limits and a usage log.",
        lifespan=lifespan,
        telemetry=server_telemetry(),
    )
    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    for module in (health, chat, embeddings, models, usage):
        app.include_router(module.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    instrument_app(app, "llm-gateway")
    return app


app = create_app()
