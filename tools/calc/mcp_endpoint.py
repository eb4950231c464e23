"""The calc service's operations over MCP too: ``/mcp`` (streamable HTTP) beside the REST routes.

The MCP server answers each request on its own with JSON (no session to keep), behind the
same API key as the REST routes (``X-API-Key``), and stays out of the OpenAPI spec: the spec
describes the REST API, the MCP server describes itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tools.service_kit.dependencies import API_KEY_HEADER, authorize_headers
from tools.service_kit.middleware import send_json
from tools.service_kit.settings import ServiceSettings

__all__ = ["MCP_PATH", "mcp_running", "mount_mcp"]

MCP_PATH = "/mcp"


class _Endpoint:
    """The raw ASGI endpoint: the key check, then the SDK's session manager."""

    def __init__(self, server: MCPServer, settings: ServiceSettings) -> None:
        self._server = server
        self._settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not authorize_headers(self._settings, Headers(scope=scope)):
            await send_json(send, 401, {"detail": f"a valid {API_KEY_HEADER} header is required"})
            return
        await self._server.session_manager.handle_request(scope, receive, send)


def mount_mcp(app: FastAPI, server: MCPServer, settings: ServiceSettings) -> None:
    """Serve ``server`` at ``/mcp``; the service's lifespan must run ``mcp_running(server)``."""
    # Builds the server's session manager: stateless, JSON answers. The key guards the route,
    # and the Host header is whatever the deployment's front end says, so no host check.
    server.streamable_http_app(
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    app.router.routes.append(Route(MCP_PATH, _Endpoint(server, settings), methods=["GET", "POST", "DELETE"]))


@asynccontextmanager
async def mcp_running(server: MCPServer) -> AsyncIterator[None]:
    """The task group the session manager answers requests in, for the service's lifespan."""
    async with server.session_manager.run():
        yield
