"""The run API as an MCP server: ``/api/mcp``, streamable HTTP, behind the function key.

MCP clients (desktop assistants, IDEs, other agents) start runs, follow them, approve or deny
their calls and cancel them with tools instead of HTTP routes; the work is done by the same
``run_control`` functions the HTTP API uses. Each request is answered on its own (JSON
responses, no server-side session), so the route works on Azure Functions, where no
connection outlives an invocation, as well as on the local host. A run is long: a client
starts it and polls ``get_run``. When a run waits for a person and the client can ask its
user (the protocol's elicitation, carried by an input-required result), ``get_run`` asks
about each pending call and passes the answers on as decisions.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.types import (
    CallToolRequestParams,
    CallToolResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    InputRequiredResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
    Tool,
    ToolAnnotations,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import run_control, run_messages
from .mcp_http import answer_mcp_request
from .run_control import RunControlError
from .run_request import RunRequest

__all__ = ["MCP_ROUTE", "bp", "server"]

MCP_ROUTE = "api/mcp"
RUN_STATUSES = ("Pending", "Running", "Completed", "Failed", "Terminated", "Canceled")

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)

# The durable client of the request being answered (set by the route, read by the tools).
_client: ContextVar[df.DurableOrchestrationClient] = ContextVar("toolmesh_mcp_client")


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunId(_Args):
    run_id: str = Field(min_length=1, max_length=200, description="The run's id, as start_run returned it.")


class ListRuns(_Args):
    status: list[str] = Field(
        default_factory=list, description=f"Only runs in these states: {', '.join(RUN_STATUSES)}."
    )
    limit: int = Field(default=50, ge=1, le=1000, description="At most this many runs, newest first.")


class Decision(RunId):
    call_id: str = Field(min_length=1, max_length=200, description="The pending call's id (progress.approvals).")
    approve: bool = Field(description="true runs the call; false denies it and tells the agent why.")
    comment: str = Field(default="", max_length=2000, description="Why, for the record and the agent.")
    input: dict[str, dict[str, Any]] | None = Field(
        default=None,
        description="For a call that asked questions (kind input): the answers by question key, each an object "
        "with the fields the question's schema asks for.",
    )


class SendMessage(RunId):
    author: str = Field(
        min_length=1, max_length=64, description="Who says it: a display name shown in the conversation."
    )
    text: str = Field(
        min_length=1,
        max_length=4000,
        description="The message: a task, a change of plan, a question, an answer, or stop.",
    )


class ReadMessages(RunId):
    after: int = Field(default=0, ge=0, description="Only messages after this sequence number (a page's next_after).")
    limit: int = Field(default=50, ge=1, le=200, description="At most this many messages.")


class ApprovalAnswer(BaseModel):
    """What a person answers when asked about a pending call (a flat form, as elicitation requires)."""

    approve: bool = Field(title="Approve", description="Run this call?")
    comment: str = Field(default="", max_length=2000, title="Comment", description="Optional reason.")


@dataclass(frozen=True)
class _Tool:
    name: str
    title: str
    description: str
    arguments: type[BaseModel]
    read_only: bool
    handler: Callable[[ServerRequestContext[Any], BaseModel, CallToolRequestParams], Awaitable[Any]]

    def listing(self) -> Tool:
        return Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=self.arguments.model_json_schema(),
            annotations=ToolAnnotations(
                read_only_hint=self.read_only, destructive_hint=False, idempotent_hint=self.read_only
            ),
        )


async def _start(_: ServerRequestContext[Any], args: BaseModel, __: CallToolRequestParams) -> Any:
    assert isinstance(args, RunRequest)
    run_id = await run_control.start_run(_client.get(), args.model_dump(mode="json"))
    return {"id": run_id, "next": "call get_run with this id until its status is Completed, Failed or Canceled"}


async def _list(_: ServerRequestContext[Any], args: BaseModel, __: CallToolRequestParams) -> Any:
    assert isinstance(args, ListRuns)
    unknown = sorted(set(args.status) - set(RUN_STATUSES))
    if unknown:
        raise RunControlError(400, f"status: unknown state(s) {unknown}; use {', '.join(RUN_STATUSES)}", "status")
    return {"runs": await run_control.list_runs(_client.get(), set(args.status), args.limit)}


async def _decide(_: ServerRequestContext[Any], args: BaseModel, __: CallToolRequestParams) -> Any:
    assert isinstance(args, Decision)
    await run_control.decide_approval(_client.get(), args.run_id, args.call_id, args.approve, args.comment, args.input)
    return {"id": args.run_id, "call_id": args.call_id, "approve": args.approve}


async def _cancel(_: ServerRequestContext[Any], args: BaseModel, __: CallToolRequestParams) -> Any:
    assert isinstance(args, RunId)
    await run_control.cancel_run(_client.get(), args.run_id)
    return {"id": args.run_id, "status": "cancelling"}


async def _send(_: ServerRequestContext[Any], args: BaseModel, __: CallToolRequestParams) -> Any:
    assert isinstance(args, SendMessage)
    return await run_messages.send_message(_client.get(), args.run_id, args.author, args.text)


async def _read(_: ServerRequestContext[Any], args: BaseModel, __: CallToolRequestParams) -> Any:
    assert isinstance(args, ReadMessages)
    return await run_messages.list_messages(_client.get(), args.run_id, args.after, args.limit)


def _can_ask(ctx: ServerRequestContext[Any]) -> bool:
    capabilities = ctx.session.client_capabilities
    return bool(capabilities and capabilities.elicitation)


QUESTION_SEPARATOR = "/"
"""Joins a waiting call's id and one of its questions' keys in an input request's key."""


def _questions(entry: dict[str, Any]) -> dict[str, ElicitRequest]:
    """What to ask the client's user about one waiting call, by input request key."""
    call_id = str(entry["call_id"])
    if entry.get("kind") == "input":  # the tool itself asked: pass its questions on as they are
        return {
            f"{call_id}{QUESTION_SEPARATOR}{key}": ElicitRequest(
                params=ElicitRequestFormParams(
                    message=f"{entry.get('function')} asks: {question.get('message')}",
                    requested_schema=question.get("schema") or {"type": "object", "properties": {}},
                )
            )
            for key, question in (entry.get("questions") or {}).items()
            if isinstance(question, dict)
        }
    arguments = json.dumps(entry.get("arguments"), ensure_ascii=False)[:1500]
    message = f"The run wants to call {entry.get('function')} ({entry.get('tool')}) with {arguments}. Approve?"
    return {
        call_id: ElicitRequest(
            params=ElicitRequestFormParams(message=message, requested_schema=ApprovalAnswer.model_json_schema())
        )
    }


def _decisions(params: CallToolRequestParams) -> dict[str, tuple[bool, str, dict[str, Any] | None]]:
    """The user's answers as decisions by call id: (approve, comment, answers to a tool's questions)."""
    decisions: dict[str, tuple[bool, str, dict[str, Any] | None]] = {}
    for key, response in (params.input_responses or {}).items():
        if not isinstance(response, ElicitResult) or response.action == "cancel":
            continue  # a cancel leaves the call waiting
        call_id, _, question = key.partition(QUESTION_SEPARATOR)
        if question:
            approve, comment, answers = decisions.get(call_id, (True, "", {}))
            accepted = response.action == "accept"
            content = dict(response.content or {}) if accepted else {}
            decisions[call_id] = (approve and accepted, comment, {**(answers or {}), question: content})
            continue
        if response.action == "decline":
            decisions[call_id] = (False, "declined", None)
            continue
        try:
            answer = ApprovalAnswer.model_validate(response.content or {})
        except ValidationError:
            continue
        decisions[call_id] = (answer.approve, answer.comment, None)
    return decisions


async def _apply_answers(run_id: str, params: CallToolRequestParams) -> None:
    """Pass the user's answers to the questions ``get_run`` asked on as decisions."""
    for call_id, (approve, comment, answers) in _decisions(params).items():
        try:
            await run_control.decide_approval(_client.get(), run_id, call_id, approve, comment, answers)
        except RunControlError:
            continue  # decided meanwhile by someone else, or the run moved on


async def _get(ctx: ServerRequestContext[Any], args: BaseModel, params: CallToolRequestParams) -> Any:
    assert isinstance(args, RunId)
    if params.request_state == args.run_id:
        await _apply_answers(args.run_id, params)
        return await run_control.run_view(_client.get(), args.run_id)
    view = await run_control.run_view(_client.get(), args.run_id)
    pending = (view.get("progress") or {}).get("approvals") or []
    if pending and _can_ask(ctx):
        return InputRequiredResult(
            input_requests={key: ask for entry in pending for key, ask in _questions(entry).items()},
            request_state=args.run_id,
        )
    return view


TOOLS = {
    tool.name: tool
    for tool in (
        _Tool(
            "start_run",
            "Start a run",
            "Start an agent run on an objective, with optional first tasks, budgets, tools (registry names or tags), "
            "model alias and per-run approval overrides. Returns the run's id at once; the run goes on in the "
            "background, for days if it waits for people.",
            RunRequest,
            False,
            _start,
        ),
        _Tool(
            "get_run",
            "Get a run",
            "A run's status, live progress (tasks, tool calls, calls waiting for approval) and, once finished, its "
            "report. Poll it to follow a run. A client that can ask its user is asked about each call waiting "
            "for approval, and the answers are passed on.",
            RunId,
            True,
            _get,
        ),
        _Tool(
            "list_runs", "List runs", "Runs, newest first, optionally only those in some states.", ListRuns, True, _list
        ),
        _Tool(
            "decide_approval",
            "Approve or deny a call",
            "Approve or deny a tool call a run is waiting on (its call_id is in progress.approvals).",
            Decision,
            False,
            _decide,
        ),
        _Tool(
            "cancel_run", "Cancel a run", "Stop a run promptly; its report says what was done.", RunId, False, _cancel
        ),
        _Tool(
            "send_message",
            "Send a message to a run",
            "Write to a run's conversation: the run takes the message at its next step or while it waits, and "
            "decides what it means (a new task, a change of plan, an answer to its question, or stop). Returns the "
            "stored message; read_messages shows what the run did about it and the agent's replies.",
            SendMessage,
            False,
            _send,
        ),
        _Tool(
            "read_messages",
            "Read a run's conversation",
            "People's messages (with what the run did about each) and the agent's replies and questions, oldest "
            "first, a page at a time.",
            ReadMessages,
            True,
            _read,
        ),
    )
}


def _result(value: Any) -> CallToolResult:
    text = json.dumps(value, ensure_ascii=False)
    structured = value if isinstance(value, dict) else {"result": value}
    return CallToolResult(content=[TextContent(text=text)], structured_content=structured)


def _failure(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(text=message)], is_error=True)


async def _list_tools(_: ServerRequestContext[Any], __: PaginatedRequestParams | None) -> ListToolsResult:
    return ListToolsResult(tools=[tool.listing() for tool in TOOLS.values()])


async def _call_tool(
    ctx: ServerRequestContext[Any], params: CallToolRequestParams
) -> CallToolResult | InputRequiredResult:
    tool = TOOLS.get(params.name)
    if tool is None:
        return _failure(f"no tool named {params.name!r}; tools: {', '.join(TOOLS)}")
    try:
        args = tool.arguments.model_validate(params.arguments or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "arguments"
        return _failure(f"invalid arguments: {where}: {first['msg']}")
    try:
        value = await tool.handler(ctx, args, params)
    except RunControlError as exc:
        return _failure(exc.message)
    return value if isinstance(value, InputRequiredResult) else _result(value)


server: Server[Any] = Server(
    "toolmesh",
    title="toolmesh runs",
    instructions="Start agent runs, follow them with get_run, talk to them with send_message and read_messages, "
    "approve or deny the calls they wait on, cancel them.",
    on_list_tools=_list_tools,
    on_call_tool=_call_tool,
)


@bp.route(route=MCP_ROUTE, methods=["GET", "POST", "DELETE"])
@bp.durable_client_input(client_name="client")
async def mcp_endpoint(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """The MCP endpoint (streamable HTTP): every message a POST of its own, answered with JSON."""
    token = _client.set(client)
    try:
        return await answer_mcp_request(server, req)
    finally:
        _client.reset(token)
