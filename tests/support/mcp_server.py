"""A third-party MCP server for tests, built with the official SDK and served on a loopback port.

It stands for a service that ships only as an MCP server: a bearer token (``PROJECTS_MCP_TOKEN``)
guards it, its tools are annotated read-only or destructive, one tool fails, and one answers
with a result that is not a tool result at all (``garbled``), as a broken server might.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ElicitRequest, ElicitRequestFormParams, ElicitResult, InputRequiredResult, ToolAnnotations
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

server = MCPServer("projects")
projects: dict[str, str] = {"apollo": "active", "gemini": "archived"}
deleted: list[str] = []
seen_headers: list[dict[str, str]] = []


class Project(BaseModel):
    name: str
    status: str


class ProjectList(BaseModel):
    projects: list[Project]


class Filter(BaseModel):
    status: str | None = Field(default=None, description="Only projects with this status.")


@server.tool(annotations=ToolAnnotations(read_only_hint=True), title="List projects")
def list_projects(filter: Filter | None = None) -> ProjectList:
    """Every project with its status."""
    wanted = filter.status if filter else None
    return ProjectList(
        projects=[Project(name=n, status=s) for n, s in sorted(projects.items()) if wanted in (None, s)]
    )


@server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True))
def delete_project(name: str) -> str:
    """Delete a project and everything in it."""
    if name not in projects:
        raise ValueError(f"no project named {name}")
    del projects[name]
    deleted.append(name)
    return f"project {name} deleted"


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def project_report(name: str) -> str:
    """A long plain-text report on one project."""
    return f"Report for {name}. " + "All quiet. " * 2000


@server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False), structured_output=False)
async def archive_project(name: str, ctx: Context) -> Any:
    """Archive a project; asks the caller's person why first (an input-required round)."""
    answer = (ctx.input_responses or {}).get("reason")
    if answer is None:
        question = ElicitRequestFormParams(
            message=f"Why should {name} be archived?",
            requested_schema={
                "type": "object",
                "properties": {"reason": {"type": "string", "description": "Why"}},
                "required": ["reason"],
            },
        )
        return InputRequiredResult(input_requests={"reason": ElicitRequest(params=question)}, request_state=name)
    if not isinstance(answer, ElicitResult) or answer.action != "accept" or not answer.content:
        return f"{name} was not archived"
    projects[name] = "archived"
    return f"{name} archived: {answer.content.get('reason')}"


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def garbled(name: str) -> str:
    """Answers with something that is not a tool result."""
    return name


_http = server.streamable_http_app(
    stateless_http=True,
    json_response=True,
    transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
)


async def _mcp_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    seen_headers.append(
        {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "x-toolmesh-run-id")}
    )
    if request.headers.get("authorization") != f"Bearer {os.environ.get('PROJECTS_MCP_TOKEN', '')}":
        await JSONResponse({"error": "bad token"}, status_code=401)(scope, receive, send)
        return
    body = await request.body()
    message = json.loads(body) if body.strip().startswith(b"{") else {}
    params = message.get("params") if isinstance(message, dict) else None
    if message.get("method") == "tools/call" and isinstance(params, dict) and params.get("name") == "garbled":
        reply = {"jsonrpc": "2.0", "id": message.get("id"), "result": {"content": "not a list", "isError": "maybe"}}
        await JSONResponse(reply)(scope, receive, send)
        return

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    await server.session_manager.handle_request(scope, replay, send)


class _Endpoint:
    """A plain ASGI callable, so Starlette hands it the raw request instead of a Request object."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _mcp_endpoint(scope, receive, send)


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def state(_: Request) -> Response:
    return JSONResponse({"projects": projects, "deleted": deleted, "seen_headers": seen_headers})


@asynccontextmanager
async def lifespan(_: Starlette) -> AsyncIterator[None]:
    async with server.session_manager.run():
        yield


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/state", state),
        Route("/mcp", _Endpoint(), methods=["GET", "POST", "DELETE"]),
    ],
    lifespan=lifespan,
)
