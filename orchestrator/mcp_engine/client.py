"""Talking to an MCP server over streamable HTTP with the official SDK.

Every connection is opened for one listing or one call and closed again: an activity may
run on any worker, and a run may wait days between two calls, so nothing is kept open.
Credentials are read from settings at that moment and sent as headers; they are never
part of what is returned.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx2
from mcp import Client, MCPError
from mcp.client.extension import ClientExtension
from mcp.client.streamable_http import streamable_http_client
from mcp.types import (
    HEADER_MISMATCH,
    CallToolResult,
    InputRequiredResult,
    InputResponses,
    RequestParamsMeta,
    Result,
    Tool,
)
from opentelemetry import propagate

from openapi_engine import SecurityBinding

from .tasks import (
    Acknowledged,
    DetailedTask,
    TasksExtension,
    cancel_task_request,
    get_task_request,
    update_task_request,
)

__all__ = [
    "ServerHttpError",
    "call_server_tool",
    "cancel_server_task",
    "connect",
    "credential_headers",
    "get_server_task",
    "list_server_tools",
    "run_blocking",
    "update_server_task",
]

T = TypeVar("T")
MAX_LISTED_TOOLS = 1000
"""Most tools read from one server; a server listing more pages is cut here."""


def credential_headers(security: list[list[SecurityBinding]], settings: Mapping[str, str]) -> dict[str, str]:
    """The headers to send, from the first alternative whose settings are all set; raises LookupError."""
    if not security:
        return {}
    for alternative in security:
        if all(settings.get(b.setting) for b in alternative):
            return {
                b.param_name: (f"Bearer {settings[b.setting]}" if b.kind == "bearer" else settings[b.setting])
                for b in alternative
            }
    needed = sorted({b.setting for alt in security for b in alt})
    raise LookupError(f"the tool is not configured: no credential in setting(s) {', '.join(needed)}")


class ServerHttpError(Exception):
    """The server answered with an HTTP error status (the SDK reports only that something failed)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


@asynccontextmanager
async def connect(url: str, headers: Mapping[str, str], timeout_seconds: float) -> AsyncIterator[Client]:
    """An MCP client session with `headers` on every request; closed on exit.

    Every request declares the tasks extension, so a server may answer a long call with a task,
    and carries the current span's trace context (`traceparent`).

    A failure after the server answered with an HTTP error status is raised as
    ServerHttpError, so a wrong key reads as `HTTP 401`, not as a protocol error; a JSON-RPC
    error the server sent with it is raised as it is.
    """
    statuses: list[int] = []

    async def record(response: httpx2.Response) -> None:
        if response.status_code >= 400:
            statuses.append(response.status_code)

    timeout = httpx2.Timeout(timeout_seconds)
    sent = dict(headers)
    # The W3C trace context of the caller's span, on every HTTP request as on the OpenAPI path
    # (the SDK puts it in each request's `_meta` too, under a span of its own).
    propagate.inject(sent)
    try:
        async with httpx2.AsyncClient(headers=sent, timeout=timeout, event_hooks={"response": [record]}) as http:
            async with Client(
                streamable_http_client(url, http_client=http),
                read_timeout_seconds=timeout_seconds,
                cache=None,
                extensions=_extensions(),
            ) as client:
                yield client
    except Exception as exc:
        # A JSON-RPC error travels with 400 on the stateless transport: its message says more.
        if statuses and not (statuses[-1] == 400 and _has_protocol_error(exc)):
            raise ServerHttpError(statuses[-1]) from exc
        raise


def _has_protocol_error(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return any(_has_protocol_error(inner) for inner in exc.exceptions)
    return isinstance(exc, MCPError)


def _extensions() -> list[ClientExtension]:
    return [TasksExtension()]


async def list_server_tools(url: str, headers: Mapping[str, str], timeout_seconds: float) -> list[Tool]:
    """Every tool the server lists, following pagination."""
    async with connect(url, headers, timeout_seconds) as client:
        tools: list[Tool] = []
        cursor: str | None = None
        while len(tools) < MAX_LISTED_TOOLS:
            page = await client.list_tools(cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        return tools[:MAX_LISTED_TOOLS]


async def call_server_tool(
    url: str,
    headers: Mapping[str, str],
    timeout_seconds: float,
    name: str,
    arguments: dict[str, Any],
    meta: RequestParamsMeta | None = None,
    *,
    input_responses: InputResponses | None = None,
    request_state: str | None = None,
) -> CallToolResult | InputRequiredResult | Result:
    """One `tools/call`. A server that needs input first answers with an InputRequiredResult,
    and one that runs the tool as a task with the task's handle (``tasks.CreateTaskResult``);
    both are returned as they are, for the caller to ask people or to wait."""
    async with connect(url, headers, timeout_seconds) as client:

        async def call() -> CallToolResult | InputRequiredResult | Result:
            return await client.session.call_tool(
                name,
                arguments,
                meta=meta,
                input_responses=input_responses,
                request_state=request_state,
                allow_input_required=True,
                allow_claimed=True,
            )

        try:
            return await call()
        except MCPError as exc:
            # The protocol's recovery when the server expects headers from the tool's listing:
            # list the tools, then send the call once more (as the SDK's own Client does).
            if exc.code != HEADER_MISMATCH:
                raise
            await client.list_tools()
            return await call()


async def get_server_task(url: str, headers: Mapping[str, str], timeout_seconds: float, task_id: str) -> DetailedTask:
    """One `tasks/get`: the task as it stands, with its result once it ended."""
    async with connect(url, headers, timeout_seconds) as client:
        return await client.session.send_request(get_task_request(task_id), DetailedTask)


async def cancel_server_task(url: str, headers: Mapping[str, str], timeout_seconds: float, task_id: str) -> None:
    """One `tasks/cancel`."""
    async with connect(url, headers, timeout_seconds) as client:
        await client.session.send_request(cancel_task_request(task_id), Acknowledged)


async def update_server_task(
    url: str, headers: Mapping[str, str], timeout_seconds: float, task_id: str, responses: InputResponses
) -> None:
    """One `tasks/update` with people's answers to the questions the task asked."""
    async with connect(url, headers, timeout_seconds) as client:
        await client.session.send_request(update_task_request(task_id, responses), Acknowledged)


def run_blocking(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from synchronous code, even where an event loop is running.

    The catalog is built synchronously (on a worker thread, or in a sync route); a thread of
    its own gives the coroutine a loop without disturbing the caller's.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_awaited(factory))
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(_awaited(factory))
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="mcp-blocking-call")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


async def _awaited(factory: Callable[[], Awaitable[T]]) -> T:
    return await factory()
