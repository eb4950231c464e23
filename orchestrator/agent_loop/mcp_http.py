"""Answering one MCP request from a Functions HTTP route (streamable HTTP, JSON, no session).

Each request gets a session manager of its own that lives only as long as the request, so an
MCP endpoint works the same on Azure Functions, where no connection outlives an invocation,
as on the local host.
"""

from __future__ import annotations

from typing import Any

import azure.functions as func
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import Receive, Scope, Send

__all__ = ["answer_mcp_request"]

# The function key guards the routes; the host header is whatever the Functions front end says.
_SECURITY = TransportSecuritySettings(enable_dns_rebinding_protection=False)


async def answer_mcp_request(server: Server[Any], req: func.HttpRequest) -> func.HttpResponse:
    """``server``'s answer to one HTTP request of the MCP streamable HTTP transport."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        manager = StreamableHTTPSessionManager(server, json_response=True, stateless=True, security_settings=_SECURITY)
        async with manager.run():
            await manager.handle_request(scope, receive, send)

    adapter = func.AsgiMiddleware(asgi)  # type: ignore[no-untyped-call]
    response: func.HttpResponse = await adapter.handle_async(req)
    return response
