"""A third-party MCP server for tests, built with the official SDK and served on a loopback port.

It stands for a service that ships only as an MCP server: a bearer token (``PROJECTS_MCP_TOKEN``)
guards it, its tools are annotated read-only or destructive, one tool fails, and one answers
with a result that is not a tool result at all (``garbled``), as a broken server might.

``export_project`` and ``restore_project`` are long-running: through the SDK's extension surface
the server speaks the tasks extension (``io.modelcontextprotocol/tasks``), answers their calls
with a task handle and serves ``tasks/get``, ``tasks/update`` and ``tasks/cancel``. An export
stays working until a test finishes it (``POST /tasks/finish``); a restore first asks which
snapshot (``input_required``) and completes once answered. A call carrying an idempotency key
already seen gets the same task.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from mcp import MCPError
from mcp.server import MCPServer
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension, MethodBinding
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.server import require_client_extension
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import (
    CallToolRequestParams,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    InputRequiredResult,
    RequestParams,
    ToolAnnotations,
)
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

TASKS = "io.modelcontextprotocol/tasks"
projects: dict[str, str] = {"apollo": "active", "gemini": "archived"}
deleted: list[str] = []
seen_headers: list[dict[str, str]] = []
seen_requests: list[dict[str, Any]] = []
"""Per JSON-RPC request: its method, the run id and W3C trace context it came with (header and `_meta`)."""
tasks: dict[str, dict[str, Any]] = {}
task_keys: dict[str, str] = {}
"""Idempotency key -> task id: a call made again for the same run and call gets its first task."""
task_gets: list[str] = []


def _now() -> str:
    return datetime.now(UTC).isoformat()


class TaskParams(RequestParams):
    task_id: str


class TaskUpdateParams(TaskParams):
    input_responses: dict[str, Any]


SNAPSHOT_QUESTION = ElicitRequest(
    params=ElicitRequestFormParams(
        message="Restore from which snapshot?",
        requested_schema={
            "type": "object",
            "properties": {"snapshot": {"type": "string", "description": "The snapshot's day"}},
            "required": ["snapshot"],
        },
    )
).model_dump(by_alias=True, mode="json", exclude_none=True)


def _task_view(task_id: str) -> dict[str, Any]:
    task = tasks[task_id]
    view = {
        "taskId": task_id,
        "status": task["status"],
        "statusMessage": task["message"],
        "createdAt": task["created"],
        "lastUpdatedAt": task["updated"],
        "ttlMs": None,
        "pollIntervalMs": 200,
    }
    if task["status"] == "completed":
        view["result"] = task["result"]
    if task["status"] == "input_required":
        view["inputRequests"] = {"snapshot": SNAPSHOT_QUESTION}
    return view


def _complete(task: dict[str, Any], text: str) -> None:
    result = {"content": [{"type": "text", "text": text}], "isError": False}
    task.update(status="completed", message="done", updated=_now(), result=result)


class LongTasks(Extension):
    """Runs ``export_project`` and ``restore_project`` as tasks for clients that declare the extension."""

    identifier = TASKS

    def methods(self) -> list[MethodBinding]:
        return [
            MethodBinding("tasks/get", TaskParams, _get_task),
            MethodBinding("tasks/update", TaskUpdateParams, _update_task),
            MethodBinding("tasks/cancel", TaskParams, _cancel_task),
        ]

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if params.name not in ("export_project", "restore_project"):
            return await call_next(ctx)
        require_client_extension(ctx, TASKS)
        key = str((params.meta or {}).get("io.toolmesh/idempotency-key") or uuid.uuid4())
        task_id = task_keys.get(key)
        if task_id is None:
            task_id = task_keys[key] = str(uuid.uuid4())
            now = _now()
            name = str((params.arguments or {}).get("name"))
            if params.name == "export_project":
                task = {"name": name, "status": "working", "message": f"exporting {name}"}
            else:
                task = {"name": name, "status": "input_required", "message": "which snapshot?"}
            tasks[task_id] = {**task, "tool": params.name, "created": now, "updated": now}
        return {"resultType": "task", **_task_view(task_id)}


async def _get_task(_: ServerRequestContext[Any, Any], params: TaskParams) -> HandlerResult:
    if params.task_id not in tasks:
        raise MCPError(code=-32602, message=f"no task {params.task_id}")
    task_gets.append(params.task_id)
    return {"resultType": "complete", **_task_view(params.task_id)}


async def _update_task(_: ServerRequestContext[Any, Any], params: TaskUpdateParams) -> HandlerResult:
    task = tasks.get(params.task_id)
    if task is None:
        raise MCPError(code=-32602, message=f"no task {params.task_id}")
    answer = params.input_responses.get("snapshot")
    if task["status"] == "input_required" and isinstance(answer, dict):
        content = answer.get("content") or {}
        if answer.get("action") == "accept" and content.get("snapshot"):
            _complete(task, f"{task['name']} restored from {content['snapshot']}")
        else:
            _complete(task, f"{task['name']} was not restored")
    return {"resultType": "complete"}


async def _cancel_task(_: ServerRequestContext[Any, Any], params: TaskParams) -> HandlerResult:
    task = tasks.get(params.task_id)
    if task is None or task["status"] not in ("working", "input_required"):
        raise MCPError(code=-32602, message=f"task {params.task_id} is not working")
    task.update(status="cancelled", message="cancelled by the client", updated=_now())
    return {"resultType": "complete"}


server = MCPServer("projects", extensions=[LongTasks()])


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
    return ProjectList(projects=[Project(name=n, status=s) for n, s in sorted(projects.items()) if wanted in (None, s)])


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
def export_project(name: str) -> str:
    """Export a project's files; takes a while, so it runs as a task."""
    return f"export of {name}: 3 files"


@server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False))
def restore_project(name: str) -> str:
    """Restore a project from a snapshot; runs as a task that asks which snapshot."""
    return f"{name} needs a snapshot"


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
    if isinstance(message, dict) and message.get("method"):
        meta = params.get("_meta") if isinstance(params, dict) else None
        seen_requests.append(
            {
                "method": message["method"],
                "run_id": request.headers.get("x-toolmesh-run-id"),
                "traceparent": request.headers.get("traceparent"),
                "meta_traceparent": meta.get("traceparent") if isinstance(meta, dict) else None,
            }
        )
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
    return JSONResponse(
        {
            "projects": projects,
            "deleted": deleted,
            "seen_headers": seen_headers,
            "seen_requests": seen_requests,
            "tasks": tasks,
            "task_gets": len(task_gets),
        }
    )


async def finish_tasks(_: Request) -> Response:
    """The work of every working task is done: each completes with its tool's result."""
    finished = []
    for task_id, task in tasks.items():
        if task["status"] == "working":
            _complete(task, export_project(task["name"]))
            finished.append(task_id)
    return JSONResponse({"finished": finished})


@asynccontextmanager
async def lifespan(_: Starlette) -> AsyncIterator[None]:
    async with server.session_manager.run():
        yield


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/state", state),
        Route("/tasks/finish", finish_tasks, methods=["POST"]),
        Route("/mcp", _Endpoint(), methods=["GET", "POST", "DELETE"]),
    ],
    lifespan=lifespan,
)
