"""The catalog's tools as an MCP server: ``/api/mcp/tools``, a gateway from MCP clients to REST APIs.

Every function of the catalog that may run without a person (the registry's policy and the
spec's own demands, as in a run with no overrides) is listed with the schema the model sees,
and is called exactly as a run calls it: arguments checked against that schema first, the
credentials the registry names injected from settings, an idempotency key on unsafe calls,
retries on transport failures, and a bounded result. Calls that need a person's approval, or
that can only finish inside a run (an OpenAPI callback, a wait for an outside event, an MCP
tool asking questions or running as a task), are refused with a reason: start a run for them.

The route sits behind the function key like the rest of the app, and answers each request on
its own (JSON responses, no session), so it works the same on Azure Functions. Tool services
scope their data by run; the gateway's calls all use one scope, ``GATEWAY_SCOPE``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.types import (
    CallToolRequestParams,
    CallToolResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
    Tool,
    ToolAnnotations,
)

from mcp_engine import is_mcp
from openapi_engine import Catalog, ToolFunction, ToolResult, validate_arguments

from .activities import SAFE_METHODS, invoke_with_retries
from .catalog_source import current_catalog_async
from .mcp_http import answer_mcp_request
from .settings import get_settings
from .tooling import needs_approval

__all__ = ["GATEWAY_ROUTE", "GATEWAY_SCOPE", "bp", "gateway_server", "refusal"]

GATEWAY_ROUTE = "api/mcp/tools"
GATEWAY_SCOPE = "mcp-gateway"
"""The run id the gateway's calls carry: tool services keep the gateway's data apart from every run's."""

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


def refusal(function: ToolFunction) -> str | None:
    """Why the gateway does not call ``function`` outside a run, or None when it does."""
    if needs_approval(function, {}):
        return "needs a person's approval"
    if function.callback is not None:
        return "reports back through a callback, which only a run can wait for"
    if function.wait is not None:
        return "waits for an outside event, which only a run can do"
    return None


def _listing(function: ToolFunction) -> Tool:
    # An MCP tool listed here runs without a person: its server marked it read-only, or the registry said so.
    safe = function.method.upper() in SAFE_METHODS or (is_mcp(function) and not function.needs_approval)
    return Tool(
        name=function.name,
        description=function.description,
        input_schema=function.parameters,
        annotations=ToolAnnotations(read_only_hint=safe, destructive_hint=not safe, idempotent_hint=safe),
    )


def _callable(catalog: Catalog) -> list[ToolFunction]:
    return [function for function in catalog.functions if refusal(function) is None]


async def _list_tools(_: ServerRequestContext[Any], __: PaginatedRequestParams | None) -> ListToolsResult:
    return ListToolsResult(tools=[_listing(function) for function in _callable(await current_catalog_async())])


def _failure(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(text=message)], is_error=True)


def _answer(result: ToolResult) -> CallToolResult:
    if result.input_required is not None or result.task is not None:
        return _failure(f"{result.error}: only a run can follow this call; start one with start_run at /api/mcp")
    if not result.ok:
        detail = f"\n{result.body}" if result.body else ""
        return _failure(f"error: {result.error or 'the call failed'}{detail}")
    structured: Any = None
    if result.content_type and "json" in result.content_type and not result.truncated:
        try:
            parsed = json.loads(result.body)
        except ValueError:
            parsed = None
        structured = parsed if isinstance(parsed, dict) else None
    return CallToolResult(content=[TextContent(text=result.body)], structured_content=structured)


async def _call_tool(_: ServerRequestContext[Any], params: CallToolRequestParams) -> CallToolResult:
    catalog = await current_catalog_async()
    function = catalog.function(params.name)
    if function is None or function.tool not in catalog.tools:
        return _failure(f"no tool named {params.name!r}; list the tools to see what there is")
    refused = refusal(function)
    if refused is not None:
        return _failure(f"{function.name} {refused}; start a run with start_run at /api/mcp to call it")
    arguments = params.arguments or {}
    errors = validate_arguments(function, arguments)
    if errors:
        return _failure("invalid arguments: " + "; ".join(errors))
    result = await invoke_with_retries(
        function,
        catalog.tools[function.tool],
        dict(arguments),
        run_id=GATEWAY_SCOPE,
        call_id=str(uuid.uuid4()),  # one request, one key: its retries do not act twice
        max_attempts=get_settings().tool_max_attempts,
    )
    return _answer(result)


gateway_server: Server[Any] = Server(
    "toolmesh-tools",
    title="toolmesh tools",
    instructions="The tools of the toolmesh catalog that run without a person's approval, called as runs call them.",
    on_list_tools=_list_tools,
    on_call_tool=_call_tool,
)


@bp.route(route=GATEWAY_ROUTE, methods=["GET", "POST", "DELETE"])
async def mcp_tools_endpoint(req: func.HttpRequest) -> func.HttpResponse:
    """The catalog over MCP (streamable HTTP): every message a POST of its own, answered with JSON."""
    return await answer_mcp_request(gateway_server, req)
