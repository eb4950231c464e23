"""Calling an MCP tool: arguments in, one `tools/call` out, a `ToolResult` back.

The same contract as the OpenAPI path: arguments are checked against the converted schema
before anything is sent, the call goes only to the endpoint the registry names, secrets
travel as headers and are never echoed, results are bounded, and every failure — the
server down, a protocol error, a tool error, an answer that is not a tool result — is a
result the model can read, marked retryable when trying again may help.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

import httpx2
from mcp import MCPError
from mcp.types import (
    AudioContent,
    CallToolResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    EmbeddedResource,
    ImageContent,
    InputRequiredResult,
    InputResponses,
    RequestParamsMeta,
    ResourceLink,
    TextContent,
    TextResourceContents,
)
from pydantic import ValidationError

from openapi_engine import DEFAULT_MAX_BODY_CHARS, DEFAULT_TOOL_TIMEOUT, RUN_ID_HEADER, ToolFunction, ToolResult
from openapi_engine.arguments import drop_omitted_nulls, invalid_arguments_result
from openapi_engine.text import clean_text

from .client import (
    ServerHttpError,
    call_server_tool,
    cancel_server_task,
    credential_headers,
    get_server_task,
    update_server_task,
)
from .tasks import CreateTaskResult, DetailedTask

__all__ = [
    "IDEMPOTENCY_META_KEY",
    "McpAnswers",
    "answer_mcp_task",
    "cancel_mcp_task",
    "failure_result",
    "invoke_mcp",
    "poll_mcp_task",
    "questions_result",
    "task_outcome",
    "tool_result",
]


@dataclasses.dataclass(frozen=True, kw_only=True)
class McpAnswers:
    """People's answers to the questions a tool asked, and the server's state to send back with them."""

    responses: dict[str, dict[str, Any]]
    """By question key: ``{"action": "accept", "content": {...}}`` or ``{"action": "decline"}``."""
    state: str | None = None

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> McpAnswers | None:
        responses = payload.get("input_responses")
        if not isinstance(responses, dict):
            return None
        state = payload.get("request_state")
        return cls(responses=responses, state=state if isinstance(state, str) else None)

    def sdk_responses(self) -> InputResponses:
        return {key: ElicitResult.model_validate(value) for key, value in self.responses.items()}


def questions_result(result: InputRequiredResult) -> ToolResult:
    """A server's request for input as a result the run shows its people; only forms can be asked."""
    questions: dict[str, dict[str, Any]] = {}
    for key, request in (result.input_requests or {}).items():
        params = request.params if isinstance(request, ElicitRequest) else None
        if not isinstance(params, ElicitRequestFormParams):
            kind = type(params or request).__name__
            return ToolResult(ok=False, error=f"the MCP server asked for input this app cannot give ({kind})")
        questions[key] = {"message": clean_text(params.message, 2000), "schema": params.requested_schema}
    if not questions:
        return ToolResult(ok=False, error="the MCP server asked to be called again without saying for what")
    return ToolResult(
        ok=False,
        error="the MCP tool needs answers from a person",
        input_required={"questions": questions, "state": result.request_state},
    )


def _task_fields(task: CreateTaskResult | DetailedTask) -> dict[str, Any]:
    return {
        "id": task.task_id,
        "status": task.status,
        "message": task.status_message or "",
        "poll_interval_ms": task.poll_interval_ms,
        "ttl_ms": task.ttl_ms,
    }


def started_task_result(handle: CreateTaskResult) -> ToolResult:
    """The call's outcome while its task works: not a result yet (callers that cannot wait see a failure)."""
    return ToolResult(
        ok=False,
        error=f"the MCP tool is still working (task {handle.task_id})",
        task=_task_fields(handle),
    )


def task_outcome(task: DetailedTask, max_body_chars: int = DEFAULT_MAX_BODY_CHARS) -> ToolResult:
    """What a task's state means for the call: its result once it ended, else the task as it stands."""
    if task.status == "completed":
        try:
            return tool_result(CallToolResult.model_validate(task.result or {}), max_body_chars)
        except ValidationError:
            return ToolResult(ok=False, error="the MCP task's result is not a valid tool result")
    if task.status == "failed":
        message = str((task.error or {}).get("message") or task.status_message or "no reason given")
        return ToolResult(ok=False, error=f"the MCP task failed: {message}"[:2000])
    if task.status == "cancelled":
        reason = f": {task.status_message}" if task.status_message else ""
        return ToolResult(ok=False, error=f"the MCP task was cancelled{reason}"[:2000])
    if task.status == "input_required":
        asked = questions_result(InputRequiredResult(input_requests=task.input_requests or {}))
        if asked.input_required is None:
            return asked  # questions this app cannot put to people end the call
        return ToolResult(ok=False, error=asked.error, input_required=asked.input_required, task=_task_fields(task))
    return ToolResult(ok=False, error=f"the MCP tool is still working (task {task.task_id})", task=_task_fields(task))


T = TypeVar("T")

IDEMPOTENCY_META_KEY = "io.toolmesh/idempotency-key"
"""Where a call's idempotency key travels (in `_meta`): the same run and call give the same key."""


def _content_text(result: CallToolResult) -> str:
    parts: list[str] = []
    for block in result.content:
        if isinstance(block, TextContent):
            parts.append(block.text)
        elif isinstance(block, ImageContent | AudioContent):
            kind = "image" if isinstance(block, ImageContent) else "audio"
            parts.append(f"<{kind}: {len(block.data) * 3 // 4} bytes of {block.mime_type}>")
        elif isinstance(block, ResourceLink):
            parts.append(f"<resource {block.uri}{f' ({block.name})' if block.name else ''}>")
        elif isinstance(block, EmbeddedResource):
            inner = block.resource
            if isinstance(inner, TextResourceContents):
                parts.append(inner.text)
            else:
                parts.append(f"<resource {inner.uri}: {inner.mime_type or 'binary'}>")
    return "\n".join(parts)


def _bounded(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return f"{text[:limit]}\n…[truncated: showing {limit} of {len(text)} characters]", True


def tool_result(result: CallToolResult, max_body_chars: int = DEFAULT_MAX_BODY_CHARS) -> ToolResult:
    """A tool's answer for the model: its structured content when it has one, else its text."""
    if result.structured_content is not None and not result.is_error:
        text = json.dumps(result.structured_content, ensure_ascii=False)
        content_type = "application/json"
    else:
        text = _content_text(result)
        content_type = "text/plain"
    body, truncated = _bounded(text, max_body_chars)
    if result.is_error:
        return ToolResult(
            ok=False, content_type=content_type, body=body, truncated=truncated, error="the MCP tool reported an error"
        )
    return ToolResult(ok=True, content_type=content_type, body=body, truncated=truncated)


def failure_result(exc: BaseException) -> ToolResult | None:
    """A failure to reach the server or to read its answer, found inside exception groups too."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = failure_result(inner)
            if found is not None:
                return found
        return None
    if isinstance(exc, httpx2.HTTPStatusError | ServerHttpError):
        status = exc.response.status_code if isinstance(exc, httpx2.HTTPStatusError) else exc.status
        return ToolResult(
            ok=False,
            status=status,
            error=f"the MCP server answered HTTP {status}",
            retryable=status == 429 or status >= 500,
        )
    if isinstance(exc, httpx2.TimeoutException | TimeoutError):
        return ToolResult(ok=False, error="the MCP server did not answer in time", retryable=True)
    if isinstance(exc, httpx2.TransportError | ConnectionError):
        return ToolResult(ok=False, error=f"could not reach the MCP server ({type(exc).__name__})", retryable=True)
    if isinstance(exc, ValidationError):
        return ToolResult(ok=False, error="the MCP server's answer is not a valid tool result")
    if isinstance(exc, MCPError):
        return ToolResult(ok=False, error=f"the MCP server refused the call: {exc}"[:2000])
    return None


async def invoke_mcp(
    function: ToolFunction,
    arguments: Mapping[str, Any],
    *,
    url: str,
    settings: Mapping[str, str],
    timeout_seconds: float = DEFAULT_TOOL_TIMEOUT,
    idempotency_key: str | None = None,
    max_body_chars: int = DEFAULT_MAX_BODY_CHARS,
    run_id: str | None = None,
    answers: McpAnswers | None = None,
) -> ToolResult:
    """Validate, call the tool on the server at `url`, and report the outcome.

    ``run_id`` goes out as the `RUN_ID_HEADER` header, as on the OpenAPI path. When the server
    needs a person's input first, the result carries its questions (`input_required`); the call
    is made again with `answers`.
    """
    invalid = invalid_arguments_result(function, arguments)
    if invalid is not None:
        return invalid
    try:
        headers = _headers(function, settings, run_id)
    except LookupError as exc:
        return ToolResult(ok=False, error=str(exc))
    # `_meta` is an open map; the SDK's TypedDict only names the protocol's own keys.
    meta = cast(RequestParamsMeta, {IDEMPOTENCY_META_KEY: idempotency_key}) if idempotency_key else None
    try:
        result = await call_server_tool(
            url,
            headers,
            timeout_seconds,
            function.path,
            drop_omitted_nulls(function, arguments),
            meta,
            input_responses=answers.sdk_responses() if answers else None,
            request_state=answers.state if answers else None,
        )
    except Exception as exc:  # the SDK wraps failures in task groups; sort them out below
        return _failure(exc, "call")
    if isinstance(result, InputRequiredResult):
        return questions_result(result)
    if isinstance(result, CreateTaskResult):
        return started_task_result(result)
    if not isinstance(result, CallToolResult):
        return ToolResult(ok=False, error="the MCP server's answer is not a tool result")
    return tool_result(result, max_body_chars)


def _headers(function: ToolFunction, settings: Mapping[str, str], run_id: str | None) -> dict[str, str]:
    """The entry's credentials (LookupError when unset) and the run id, as on the OpenAPI path."""
    headers = credential_headers(function.security, settings)
    if run_id:
        headers[RUN_ID_HEADER] = run_id
    return headers


def _failure(exc: Exception, what: str) -> ToolResult:
    found = failure_result(exc)
    if found is None:
        return ToolResult(ok=False, error=f"the MCP {what} failed: {type(exc).__name__}")
    return found


async def _task_request(
    function: ToolFunction,
    settings: Mapping[str, str],
    run_id: str | None,
    what: str,
    send: Callable[[dict[str, str]], Awaitable[T]],
) -> T | ToolResult:
    """``send`` with the entry's headers; a missing credential or a failure as a result."""
    try:
        return await send(_headers(function, settings, run_id))
    except LookupError as exc:
        return ToolResult(ok=False, error=str(exc))
    except Exception as exc:
        return _failure(exc, what)


async def poll_mcp_task(
    function: ToolFunction,
    task_id: str,
    *,
    url: str,
    settings: Mapping[str, str],
    timeout_seconds: float = DEFAULT_TOOL_TIMEOUT,
    max_body_chars: int = DEFAULT_MAX_BODY_CHARS,
    run_id: str | None = None,
) -> ToolResult:
    """One look at a task: the call's result once it ended, its questions, or the task still at work.

    A failure to reach the server is a retryable result without ``task``: the run looks again later.
    """

    async def get(headers: dict[str, str]) -> DetailedTask:
        return await get_server_task(url, headers, timeout_seconds, task_id)

    task = await _task_request(function, settings, run_id, "task poll", get)
    return task if isinstance(task, ToolResult) else task_outcome(task, max_body_chars)


async def cancel_mcp_task(
    function: ToolFunction,
    task_id: str,
    *,
    url: str,
    settings: Mapping[str, str],
    timeout_seconds: float = DEFAULT_TOOL_TIMEOUT,
    run_id: str | None = None,
) -> ToolResult:
    """Ask the server to stop a task the run no longer waits for."""

    async def cancel(headers: dict[str, str]) -> ToolResult:
        await cancel_server_task(url, headers, timeout_seconds, task_id)
        return ToolResult(ok=True, body=f"task {task_id} cancelled")

    return await _task_request(function, settings, run_id, "task cancel", cancel)


async def answer_mcp_task(
    function: ToolFunction,
    task_id: str,
    answers: McpAnswers,
    *,
    url: str,
    settings: Mapping[str, str],
    timeout_seconds: float = DEFAULT_TOOL_TIMEOUT,
    run_id: str | None = None,
) -> ToolResult:
    """Send people's answers to the questions a task asked (`tasks/update`); the task then goes on."""

    async def update(headers: dict[str, str]) -> ToolResult:
        await update_server_task(url, headers, timeout_seconds, task_id, answers.sdk_responses())
        return ToolResult(ok=True, body=f"task {task_id} answered")

    return await _task_request(function, settings, run_id, "task update", update)
