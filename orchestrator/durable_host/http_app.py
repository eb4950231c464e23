"""The ASGI app: the function app's HTTP routes and the durable management API on one origin.

Routing, in order: ``/healthz`` (anonymous), ``/runtime/webhooks/durabletask/...`` (always
needs the functions key), ``/durabletask-rpc/<token>/...`` (the SDK's keyless RPC base: only
for loopback clients that know the per-process token), then the app's HTTP triggers under
the route prefix, most specific template first. Keys are compared in constant time.
"""

from __future__ import annotations

import hmac
import inspect
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from durable_host.binding import BindingContext, client_binding_json
from durable_host.discovery import FunctionIndex, HttpFunction
from durable_host.engine import DEFAULT_EPISODE_ATTEMPTS, Engine
from durable_host.gc_tuning import tune_garbage_collector
from durable_host.invoke import http_response_parts
from durable_host.management import handle_management
from durable_host.sessions import DEFAULT_IDLE_SECONDS, DEFAULT_MAX_SESSIONS, SessionCache
from durable_host.store import Store
from durable_host.workers import WorkerPool

__all__ = ["HostConfig", "build_app"]

log = logging.getLogger("durable_host")

MANAGEMENT_PREFIX = "/runtime/webhooks/durabletask"
RPC_PREFIX = "/durabletask-rpc"
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@dataclass(frozen=True, kw_only=True)
class HostConfig:
    """What the ASGI app needs to run: the app's functions, the store, the key and the port."""

    functions: FunctionIndex
    store_factory: Callable[[], Store]
    functions_key: str
    port: int
    activity_concurrency: int
    rpc_token: str
    max_sessions: int = DEFAULT_MAX_SESSIONS
    session_idle_seconds: float = DEFAULT_IDLE_SECONDS
    app_dir: Path | None = None
    """Where ``function_app.py`` is: activity workers import it (needed when ``activity_workers`` > 0)."""
    activity_workers: int = 0
    """Worker processes that run the activities (0: they run on the host's own event loop)."""
    episode_attempts: int = DEFAULT_EPISODE_ATTEMPTS
    """Failed episodes in a row after which an instance is marked Failed."""


@dataclass(frozen=True, kw_only=True)
class _InvocationContext:
    """The subset of ``azure.functions.Context`` that HTTP functions commonly read."""

    invocation_id: str
    function_name: str
    function_directory: str
    trace_context: Any = None
    retry_context: Any = None


class _Out(func.Out[Any]):
    """An output binding's value, as the worker's ``bindings.out.Out`` holds it."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


def _key_ok(request: Request, key: str) -> bool:
    given = request.headers.get("x-functions-key") or request.query_params.get("code") or ""
    return hmac.compare_digest(given.encode(), key.encode())


def _encoded_rest(request: Request, prefix: str, decoded_path: str) -> str:
    """The path after ``prefix``, still percent-encoded, so an id holding ``%2F`` stays one segment."""
    raw = request.scope.get("raw_path")
    if isinstance(raw, bytes):
        text = raw.decode("latin-1").split("?", 1)[0]
        if text.startswith(prefix):
            return text[len(prefix) :]
    return decoded_path[len(prefix) :]


def _unauthorized() -> Response:
    return JSONResponse(
        {"Message": "A valid functions key is required (x-functions-key header or code query parameter)."},
        status_code=401,
    )


def build_app(config: HostConfig) -> Starlette:
    """Create the ASGI app; the engine starts and stops with its lifespan."""
    state: dict[str, Engine] = {}
    routes_by_specificity = sorted(
        config.functions.http, key=lambda f: (-f.route.literal_count, f.route.template.count("{"))
    )
    prefix = "/" + config.functions.route_prefix if config.functions.route_prefix else ""

    def binding(request: Request) -> BindingContext:
        return BindingContext(
            origin=f"{request.url.scheme}://{request.url.netloc}",
            functions_key=config.functions_key,
            rpc_base_url=f"http://127.0.0.1:{config.port}{RPC_PREFIX}/{config.rpc_token}/",
            hub_name=config.functions.hub_name,
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        store = config.store_factory()
        sessions = SessionCache(max_sessions=config.max_sessions, idle_seconds=config.session_idle_seconds)
        workers = None
        if config.activity_workers > 0:
            if config.app_dir is None:
                raise ValueError("activity workers need the app's folder (HostConfig.app_dir)")
            workers = WorkerPool(config.app_dir, config.activity_workers, concurrency=config.activity_concurrency)
        engine = Engine(
            store,
            config.functions,
            activity_concurrency=config.activity_concurrency,
            session_cache=sessions,
            workers=workers,
            episode_attempts=config.episode_attempts,
            # Activities with a durable client binding reach the API the same way HTTP functions do.
            client_binding=client_binding_json(
                BindingContext(
                    origin=f"http://127.0.0.1:{config.port}",
                    functions_key=config.functions_key,
                    rpc_base_url=f"http://127.0.0.1:{config.port}{RPC_PREFIX}/{config.rpc_token}/",
                    hub_name=config.functions.hub_name,
                )
            ),
        )
        state["engine"] = engine
        engine.start()
        tune_garbage_collector()
        log.info("durable host ready")
        try:
            yield
        finally:
            await engine.stop()
            store.close()
            log.info("durable host stopped")

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def dispatch(request: Request) -> Response:
        path = request.url.path
        if path == MANAGEMENT_PREFIX or path.startswith(MANAGEMENT_PREFIX + "/"):
            if not _key_ok(request, config.functions_key):
                return _unauthorized()
            return await _management(request, _encoded_rest(request, MANAGEMENT_PREFIX, path))
        if path.startswith(RPC_PREFIX + "/"):
            token, _, rest = path[len(RPC_PREFIX) + 1 :].partition("/")
            client = request.client.host if request.client else ""
            if client not in _LOOPBACK or not hmac.compare_digest(token.encode(), config.rpc_token.encode()):
                return JSONResponse({"Message": "Not found."}, status_code=404)
            encoded = _encoded_rest(request, f"{RPC_PREFIX}/{token}", path)
            return await _management(request, encoded)
        return await _serve_function(request, path)

    async def _management(request: Request, rest: str) -> Response:
        return await handle_management(
            state["engine"],
            binding(request),
            request.method,
            rest,
            request.query_params,
            await request.body(),
            request.headers.get("content-type"),
            request.headers,
        )

    async def _serve_function(request: Request, path: str) -> Response:
        if prefix:
            if not (path == prefix or path.startswith(prefix + "/")):
                return Response(status_code=404)
            relative = path[len(prefix) :]
        else:
            relative = path
        for function in routes_by_specificity:
            params = function.route.match(relative)
            if params is None:
                continue
            if function.methods is not None and request.method.upper() not in function.methods:
                # The Functions host maps each route with an HttpMethodRouteConstraint, so a wrong
                # method means the route does not match: the next one may, else 404, never 405
                # (WebScriptHostHttpRoutesManager.cs in Azure/azure-functions-host, 89dc438d).
                continue
            if function.auth_level != "anonymous" and not _key_ok(request, config.functions_key):
                return _unauthorized()
            return await _invoke(request, function, params)
        return Response(status_code=404)

    async def _invoke(request: Request, function: HttpFunction, params: dict[str, str]) -> Response:
        if function.streams:
            return await _invoke_streaming(request, function, params)
        http_request = func.HttpRequest(
            method=request.method.upper(),
            url=str(request.url),
            headers=dict(request.headers),
            params=dict(request.query_params),
            route_params=params,
            body=await request.body(),
        )
        kwargs: dict[str, Any] = {function.request_param: http_request}
        if function.client_param:
            kwargs[function.client_param] = client_binding_json(binding(request))
        response_out = _Out() if function.response_param else None
        if function.response_param:
            kwargs[function.response_param] = response_out
        signature = inspect.signature(function.fn)
        if "context" in signature.parameters:
            kwargs["context"] = _InvocationContext(
                invocation_id=str(uuid.uuid4()), function_name=function.name, function_directory=""
            )
        try:
            if inspect.iscoroutinefunction(function.fn):
                result = await function.fn(**kwargs)
            else:
                import asyncio

                result = await asyncio.to_thread(function.fn, **kwargs)
        except Exception:
            log.exception("HTTP function %s failed", function.name)
            return PlainTextResponse("Internal Server Error", status_code=500)
        if response_out is not None:
            result = response_out.get()
        status, headers, body = http_response_parts(result)
        return Response(content=body, status_code=status, headers=headers)

    async def _invoke_streaming(request: Request, function: HttpFunction, params: dict[str, str]) -> Response:
        """A function on the HTTP streams model: it takes the ASGI request and returns an ASGI response."""
        request.scope["path_params"] = params
        kwargs: dict[str, Any] = {function.request_param: request}
        if function.client_param:
            kwargs[function.client_param] = client_binding_json(binding(request))
        try:
            result = await function.fn(**kwargs)
        except Exception:
            log.exception("HTTP function %s failed", function.name)
            return PlainTextResponse("Internal Server Error", status_code=500)
        if isinstance(result, Response):
            return result
        status, headers, body = http_response_parts(result)
        return Response(content=body, status_code=status, headers=headers)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

    async def not_found(_: Request, __: Exception) -> Response:
        # A path no route pattern takes (one holding a newline, say) gets the same bare 404 as
        # any other path no function serves, not Starlette's text page.
        return Response(status_code=404)

    return Starlette(
        exception_handlers={404: not_found},
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/{path:path}", dispatch, methods=methods),
        ],
        lifespan=lifespan,
    )
