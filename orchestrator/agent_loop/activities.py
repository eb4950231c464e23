"""Activities: every side effect of a run (catalog loading, model steps, tool calls, memory).

Each takes and returns plain JSON-ready dicts, because their inputs and results are stored in
orchestration history; ``activity_contracts`` has the model of each, validated on entry here.
Tool calls retry transient failures here, with exponential backoff and jitter, so the
orchestrator sees one result per call. A dependency that stays away through those quick retries
(no connection, a timeout, 408, 429, 503 or 504) is reported as ``away`` rather than failed: the
orchestrator then waits on a durable timer and calls again (see ``agent_loop.dependency_retry``),
which a sleep here could not survive.

A tool call goes where the registry says the tool is now (``registry_entry``), not where it was
when the run's catalog was read: a tool restarted on another port, or moved, is reached by the
runs already in flight.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import os
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import azure.durable_functions as df
from opentelemetry.trace import SpanKind

from mcp_engine import McpAnswers, invoke_mcp, is_mcp
from openapi_engine import Catalog, ToolFunction, ToolInfo, ToolResult, invoke
from run_events import custom, tool_call_result

from . import run_trace
from .activity_contracts import (
    REPLAYED_INPUT,
    SERVICE_AWAY,
    ActivityInput,
    LlmStepInput,
    LoadCatalogInput,
    MemoryStored,
    ModelUsage,
    PublishEventsInput,
    RecallMemoryInput,
    RecordRunInput,
    RunRecorded,
    SelectedTools,
    SelectToolsInput,
    StepAnswer,
    StepToolCall,
    StoreMemoryInput,
    ToolCallInput,
    ToolCallOutcome,
)
from .callbacks import callback_url, withhold_signatures
from .catalog_source import catalog_function, current_catalog, current_catalog_async, registry_entry
from .catalog_store import catalog_store
from .clients import gateway_session, tool_client
from .errors import DependencyAway, ModelStepError
from .live_events import agui_call_id, event_channel, now_ms, publish
from .model_client import chat_completion
from .model_stream import StepEvents, content_text
from .settings import get_settings
from .timeline import activity_timing
from .tooling import FunctionIndex, catalog_for_run
from .turn_abort import unless_aborted

__all__ = [
    "AWAY_STATUSES",
    "PUBLISHING",
    "REPLAYED_INPUT",
    "bp",
    "call_outcome",
    "current_tool",
    "idempotency_key",
    "is_away",
    "invoke_with_retries",
    "step_answer",
    "tool_settings",
]

log = logging.getLogger("toolmesh.activities")

bp = df.Blueprint()

# Parts of a message's content that carry no text for the run (reasoning traces, images).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_BASE_SECONDS = 0.25
RETRY_MAX_SECONDS = 4.0
AWAY_STATUSES = frozenset({408, 429, 503, 504})
"""Answers that say "not now" (the service is busy, restarting or behind a proxy that lost it).
Other answers are final, 500 and 502 included: the service answered, and the model reads it."""


def is_away(result: ToolResult) -> bool:
    """Whether a failed call found its service away, so that calling again later may succeed."""
    if result.ok:
        return False
    if result.status is None:
        return result.retryable  # no answer: no connection, or a timeout
    # A 409 the engine marks retryable came with Retry-After: the service still holds this call's
    # Idempotency-Key for an earlier try (one a crash cut off holds it until its lease ends).
    return result.status in AWAY_STATUSES or (result.status == 409 and result.retryable)


def require_input(payload: dict[str, Any]) -> dict[str, Any]:
    """The input of an activity without a model of its own; a replay stand-in here is a defect."""
    if payload.get("replayed_call") is True:
        raise RuntimeError("this activity was scheduled with a replay stand-in instead of its input")
    return payload


Input = TypeVar("Input", bound=ActivityInput)


async def take_input(model: type[Input], payload: Any) -> Input:
    """The validated input, after publishing the run's events the orchestrator handed over (AgentRun._call).

    They are published before the activity's own work, so the stream keeps the run's order; their
    keys make a retried activity publish nothing twice.
    """
    request = model.parse(payload)
    if request.events and request.stream:
        await publish(request.stream, list(request.events))
    return request


def tool_settings(tool: ToolInfo) -> dict[str, str]:
    """The secrets a tool's registry entry names, read from the app's settings at call time."""
    return {name: os.environ.get(name, "") for name in tool.auth.values()}


def idempotency_key(run_id: str, call_id: str) -> str:
    """The same run and call always give the same key, so a retried activity cannot act twice."""
    return hashlib.sha256(f"toolmesh:{run_id}:{call_id}".encode()).hexdigest()[:40]


@bp.activity_trigger(input_name="payload")
async def load_catalog(payload: dict[str, Any]) -> dict[str, Any]:
    """Snapshot the run's part of the tool catalog; it lives in history from then on.

    When it has more functions than a task is offered (``offer_limit``), only its tools and a
    reference to the snapshot, stored once by content hash, go into history; ``select_tools``
    then picks each task's functions from it. Building and serialising a large catalog runs on
    a thread, so the host's event loop keeps answering meanwhile.
    """
    request = await take_input(LoadCatalogInput, payload)
    full = await current_catalog_async()
    return await asyncio.to_thread(_run_catalog, full, request.tools, request.offer_limit)


def _run_catalog(full: Catalog, tools: list[str] | None, offer_limit: int | None) -> dict[str, Any]:
    catalog = catalog_for_run(full, tools)
    for problem in catalog.problems:
        log.warning("tool catalog problem: %s", problem)
    if offer_limit is None or len(catalog.functions) <= offer_limit:
        return catalog.to_dict()  # every function is offered to every task anyway
    return {
        "tools": {name: dataclasses.asdict(info) for name, info in catalog.tools.items()},
        "functions": [],
        "problems": [dataclasses.asdict(problem) for problem in catalog.problems],
        "ref": catalog_store().put(catalog),
        "function_count": len(catalog.functions),
    }


_indexes: dict[str, FunctionIndex] = {}


@bp.activity_trigger(input_name="payload")
async def select_tools(payload: dict[str, Any]) -> dict[str, Any]:
    """The functions to offer for one task, picked from a catalog snapshot kept outside history."""
    request = await take_input(SelectToolsInput, payload)
    return await asyncio.to_thread(_select_tools, request.ref, request.tools, request.task, request.limit)


def _select_tools(ref: str, tools: list[str] | None, task: str, limit: int) -> dict[str, Any]:
    index = _indexes.get(ref)
    if index is None:
        catalog = catalog_store().get(ref)
        if catalog is None:
            # Not in this store (another machine, or cleaned up): the current catalog serves.
            log.warning("catalog snapshot %s is not in %s; using the current catalog", ref, get_settings().catalog_dir)
            catalog = catalog_for_run(current_catalog(), tools)
        index = FunctionIndex(catalog.functions)
        _indexes.clear()  # one index at a time: a catalog this large is one per registry state
        _indexes[ref] = index
    offered, selected = index.select(task, limit)
    return SelectedTools(functions=[f.to_dict() for f in offered], selected=selected).model_dump(mode="json")


@bp.activity_trigger(input_name="payload")
async def llm_step(payload: dict[str, Any]) -> dict[str, Any]:
    """One chat completion through the gateway; the gateway holds every provider key."""
    request = await take_input(LlmStepInput, payload)
    settings = get_settings()
    body: dict[str, Any] = {"model": request.model, "messages": request.messages}
    if request.tools:
        body["tools"] = request.tools
    if request.response_format:
        body["response_format"] = request.response_format
    headers = {"X-Toolmesh-Run-Id": request.run_id, "X-Toolmesh-Step": request.step}
    started = datetime.now(UTC)
    with run_trace.span(
        f"chat {request.model}",
        run_id=request.run_id,
        key=request.span_key,
        kind=SpanKind.CLIENT,
        attributes=run_trace.chat_attributes(request.run_id, request.step, request.model, request.messages),
    ) as span:
        message_id, call_id = _step_ids(request)
        events = _step_events(request, message_id, call_id)
        streamed = events if events is not None and settings.stream_model_steps else None
        try:
            completion, aborted = await unless_aborted(
                request.run_id,
                request.turn,
                chat_completion(gateway_session(), settings, request.step, body, headers, streamed),
            )
        except DependencyAway as away:
            if events is not None:
                await events.close()
            return {"away": str(away), "timing": activity_timing(started)}
        if aborted or completion is None:
            return {"content": None, "tool_calls": [], "aborted": True, "timing": activity_timing(started)}
        answer = step_answer(request.step, completion)
        run_trace.record_answer(span, answer)
    if events is not None:
        if streamed is None:  # the whole answer at once, as a stream would have told it
            _tell_answer(events, answer)
            await events.close()
        usage = {**answer["usage"], "step": request.step}
        await publish(request.stream or request.run_id, [(None, custom("toolmesh.usage", usage, now_ms()))])
    _name_calls(answer, events, call_id)
    return {**answer, "timing": activity_timing(started)}


def _step_ids(request: LlmStepInput) -> tuple[str, Callable[[int], str]]:
    """The model step's message id, and the ids its events give its tool calls, by index.

    Both are new for every execution of the activity, so a step run again (after a crash, or
    when the gateway was away) streams as a new message with new calls rather than continuing
    ones the watchers saw cut off. A call's id starts with the run's id for it.
    """
    run_id, prefix = request.run_id, request.call_prefix
    execution = uuid.uuid4().hex[:8]
    message_id = f"{run_id}/{request.span_key or request.step}/{execution}"

    def call_id(index: int) -> str:
        return agui_call_id(run_id, f"{prefix}{index}@{execution}") if prefix else f"{message_id}/call{index}"

    return message_id, call_id


def _step_events(request: LlmStepInput, message_id: str, call_id: Callable[[int], str]) -> StepEvents | None:
    """The model step's live events (None when events are off)."""
    if event_channel() is None:
        return None
    coalesce = get_settings().events_merge_ms / 1000
    return StepEvents(partial(publish, request.stream or request.run_id), message_id, call_id, request.step, coalesce)


def _name_calls(answer: dict[str, Any], events: StepEvents | None, call_id: Callable[[int], str]) -> None:
    """Put on each tool call of ``answer`` the id its events gave it, for the events of its result."""
    told = events.told_calls if events is not None else {}
    for index, call in enumerate(answer["tool_calls"]):
        call["event_id"] = told.get(index) or call_id(index)


def _tell_answer(events: StepEvents, answer: dict[str, Any]) -> None:
    if answer.get("content"):
        events.text(str(answer["content"]))
    for index, call in enumerate(answer.get("tool_calls") or []):
        events.tool(index, call["name"], call["arguments"])


def step_answer(step: str, completion: dict[str, Any]) -> dict[str, Any]:
    """The few fields of a chat completion the run keeps; ModelStepError when it is not one.

    OpenAI-compatible servers differ in two shapes seen in the wild, both normalised here: a
    tool call's ``arguments`` as a JSON object instead of JSON text, and ``content`` as a list
    of parts instead of a string.
    """
    try:
        choice = completion["choices"][0]
        message = choice["message"]
        calls = message.get("tool_calls") or []
        if not isinstance(calls, list):
            raise TypeError("tool_calls is not a list")
        tool_calls = [
            StepToolCall(
                id=str(call.get("id") or f"call_{index}"),
                name=str(call["function"]["name"]),
                arguments=_arguments_text(call["function"].get("arguments")),
            )
            for index, call in enumerate(calls)
            if isinstance(call, dict) and isinstance(call.get("function"), dict)
        ]
        usage = completion.get("usage") or {}
        answer = StepAnswer(
            content=content_text(message.get("content")),
            tool_calls=tool_calls,
            finish_reason=choice.get("finish_reason"),
            model=completion.get("model"),
            usage=ModelUsage(
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
                total_tokens=int(usage.get("total_tokens") or 0),
                cost_usd=float(completion.get("cost_usd") or 0.0),
            ),
        )
        return answer.model_dump(mode="json", exclude={"timing", "away", "aborted"})
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
        raise ModelStepError(step, f"the gateway's answer is not a chat completion ({exc!r})") from None


def _arguments_text(arguments: Any) -> str:
    """A tool call's arguments as JSON text; some servers send the object itself."""
    if arguments is None or arguments == "":
        return "{}"
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments, ensure_ascii=False)


async def invoke_with_retries(
    function: ToolFunction,
    tool: ToolInfo,
    arguments: dict[str, Any],
    *,
    run_id: str,
    call_id: str,
    max_attempts: int,
    answers: McpAnswers | None = None,
) -> ToolResult:
    """Call a tool, retrying timeouts, 429 and 5xx with exponential backoff and full jitter.

    ``answers`` carries people's answers to the questions an MCP tool asked during this call.
    """
    settings = get_settings()
    secrets = tool_settings(tool)
    key = None if function.method.upper() in SAFE_METHODS else idempotency_key(run_id, call_id)
    if is_mcp(function):
        return await _with_retries(
            function,
            max_attempts,
            lambda: invoke_mcp(
                function,
                arguments,
                url=tool.base_url,
                settings=secrets,
                timeout_seconds=float(tool.timeout_seconds),
                idempotency_key=key,
                run_id=run_id,
                answers=answers,
            ),
        )
    hook = None
    if function.callback is not None:
        if not (settings.public_url and settings.callback_secret):
            return ToolResult(
                ok=False,
                status=None,
                content_type=None,
                body="",
                truncated=False,
                error="this operation reports back through a callback, but callbacks are not configured "
                "(TOOLMESH_PUBLIC_URL and TOOLMESH_CALLBACK_SECRET)",
                retryable=False,
            )
        hook = callback_url(settings.public_url, settings.callback_secret, run_id, call_id)
    return await _with_retries(
        function,
        max_attempts,
        lambda: invoke(
            function,
            arguments,
            base_url=tool.base_url,
            client=tool_client(),
            settings=secrets,
            timeout_seconds=float(tool.timeout_seconds),
            idempotency_key=key,
            callback_url=hook,
            run_id=run_id,
        ),
    )


async def _with_retries(
    function: ToolFunction, max_attempts: int, call: Callable[[], Awaitable[ToolResult]]
) -> ToolResult:
    """``call`` until it succeeds or fails for good, with exponential backoff and full jitter between tries.

    The result goes to the model: a signed callback URL a service echoes back loses its signature.
    """
    result: ToolResult | None = None
    for attempt in range(max_attempts):
        try:
            result = await call()
        except Exception as exc:
            # The engines turn every failure they know into a result; anything else is a defect,
            # still a result the model can read (the traceback goes to the log, not to the model).
            log.exception("calling %s failed unexpectedly", function.name)
            result = _unexpected_failure(exc)
        if result.ok or not result.retryable or attempt == max_attempts - 1:
            result = dataclasses.replace(result, attempts=attempt + 1)
            break
        delay = random.uniform(0, min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2**attempt))
        log.info("retrying %s (attempt %d) after %.2fs: %s", function.name, attempt + 2, delay, result.error)
        await asyncio.sleep(delay)
    assert result is not None
    return dataclasses.replace(result, body=withhold_signatures(result.body))


def _unexpected_failure(exc: Exception) -> ToolResult:
    """A tool call that raised where no failure was expected; its message may quote a secret, so only its kind."""
    return ToolResult(ok=False, error=f"the call failed inside toolmesh ({type(exc).__name__})")


def _json_body(result: ToolResult) -> Any:
    if result.truncated or not result.content_type or "json" not in result.content_type:
        return None
    try:
        return json.loads(result.body)
    except ValueError:
        return None


@bp.activity_trigger(input_name="payload")
async def invoke_tool(payload: dict[str, Any]) -> dict[str, Any]:
    """One tool call: one HTTP request to the registry's server for that tool."""
    request = await take_input(ToolCallInput, payload)
    function = ToolFunction.from_dict(request.function)
    snapshot = ToolInfo(**request.tool)
    started = datetime.now(UTC)
    tool = current_tool(snapshot)
    if tool is None:
        error = f"the tool {snapshot.name!r} is no longer registered (removed or disabled); {function.name} is gone"
        return call_outcome(ToolResult(ok=False, error=error), started, json=None)
    answers = McpAnswers.from_payload(request.model_dump(include={"input_responses", "request_state"}))
    stream, call = request.stream or request.run_id, {"call_id": request.call_id, "function": function.name}
    key = f"{request.run_id}:{request.span_key}:tool"
    await publish(stream, [(f"{key}-started", custom("toolmesh.tool_call", {**call, "status": "started"}, now_ms()))])
    result, aborted = await unless_aborted(
        request.run_id,
        request.turn,
        traced_tool_call(
            function,
            tool,
            request.arguments,
            run_id=request.run_id,
            call_id=request.call_id,
            span_key=request.span_key,
            max_attempts=get_settings().tool_max_attempts,
            answers=answers,
        ),
    )
    if aborted or result is None:
        aborted_event = custom("toolmesh.tool_call", {**call, "status": "aborted"}, now_ms())
        await publish(stream, [(f"{key}-aborted", aborted_event)])
        timing = activity_timing(started)
        aborted_call = {"ok": False, "error": "the turn was aborted", "aborted": True, "timing": timing}
        return ToolCallOutcome.model_validate(aborted_call).result()
    await publish(stream, _tool_events(request.run_id, call, result, key, request.event_call_id))
    moved = {"base_url": tool.base_url} if tool.base_url != snapshot.base_url else {}
    away = (result.error or SERVICE_AWAY) if is_away(result) else None
    return call_outcome(result, started, json=_json_body(result), away=away, **moved)


def call_outcome(result: ToolResult, started: datetime, **added: Any) -> dict[str, Any]:
    """``invoke_tool``'s answer: the engine's result, what the activity ``added``, and its timing."""
    fields = {**result.to_dict(), **added, "timing": activity_timing(started)}
    return ToolCallOutcome.model_validate(fields).result()


def current_tool(snapshot: ToolInfo) -> ToolInfo | None:
    """The tool as the registry has it now: its address, credentials and timeout; None when it is gone.

    The run's catalog keeps the functions the model saw; only where and how to call comes from
    the registry at call time. A registry that cannot be read now leaves the snapshot in use.
    """
    try:
        entry = registry_entry(snapshot.name)
    except Exception:  # noqa: BLE001 - a broken registry file must not fail calls that worked a moment ago
        log.warning("the registry is unreadable; calling %s where the run's catalog says", snapshot.name, exc_info=True)
        return snapshot
    if entry is None:
        return None
    return dataclasses.replace(
        snapshot, base_url=entry.base_url, auth=dict(entry.auth), timeout_seconds=entry.timeout_seconds
    )


TOOL_RESULT_CHARS = 2000
"""How much of a tool's answer its result event shows (the model gets all of it)."""


def _tool_events(
    run_id: str, call: dict[str, str], result: ToolResult, key: str, event_call_id: str | None
) -> list[tuple[str | None, Any]]:
    """A finished tool call as events: its outcome, and AG-UI's result for the call the model made
    (``event_call_id``, the id the model step's events gave it)."""
    at = now_ms()
    status = "waiting for input" if result.input_required else "ok" if result.ok else "failed"
    outcome = {**call, "status": status, "http_status": result.status, "attempts": result.attempts,
               "error": result.error}  # fmt: skip
    content = result.body[:TOOL_RESULT_CHARS] if result.ok else f"error: {result.error or 'the call failed'}"
    return [
        (f"{key}-finished", custom("toolmesh.tool_call", outcome, at)),
        (f"{key}-result", tool_call_result(event_call_id or agui_call_id(run_id, call["call_id"]), content, at)),
    ]


async def traced_tool_call(
    function: ToolFunction,
    tool: ToolInfo,
    arguments: dict[str, Any],
    *,
    run_id: str,
    call_id: str,
    span_key: str | None,
    max_attempts: int,
    answers: McpAnswers | None = None,
) -> ToolResult:
    """``invoke_with_retries`` inside the run's ``execute_tool`` span, whose context the tool continues."""
    with run_trace.span(
        f"execute_tool {function.name}",
        run_id=run_id,
        key=span_key,
        attributes=run_trace.tool_attributes(run_id, function.name, tool.name, call_id, arguments),
    ) as span:
        result = await invoke_with_retries(
            function, tool, arguments, run_id=run_id, call_id=call_id, max_attempts=max_attempts, answers=answers
        )
        run_trace.record_tool_result(
            span, ok=result.ok, status=result.status, attempts=result.attempts, error=result.error
        )
    return result


def _fit_arguments(function: ToolFunction, candidates: dict[str, Any]) -> dict[str, Any]:
    properties = function.parameters.get("properties", {})
    return {name: value for name, value in candidates.items() if name in properties}


@bp.activity_trigger(input_name="payload")
async def store_memory(payload: dict[str, Any]) -> dict[str, Any]:
    """Write a finished task's result to the memory tool (a tool like any other)."""
    request = await take_input(StoreMemoryInput, payload)
    settings = get_settings()
    started = datetime.now(UTC)
    found = await catalog_function(settings.memory_tool, settings.memory_store_operation)
    if found is None:
        if registry_entry(settings.memory_tool) is not None:
            # Registered, but its spec could not be read: the service is away, not gone.
            error = f"the memory tool {settings.memory_tool!r} did not serve its spec"
            away = {"stored": False, "away": error, "error": error, "timing": activity_timing(started)}
            return MemoryStored.model_validate(away).model_dump(mode="json", exclude_unset=True)
        error = f"no memory tool {settings.memory_tool!r} with {settings.memory_store_operation} in the registry"
        missing = {"stored": False, "reason": error, "error": error, "timing": activity_timing(started)}
        return MemoryStored.model_validate(missing).model_dump(mode="json", exclude_unset=True)
    function, tool = found
    arguments = _fit_arguments(
        function,
        {
            "title": f"Task {request.task_id}: {request.task}"[:200],
            "content": request.result or "(no result)",
            "body": request.result or "(no result)",
            "tags": ["task-result"],
            "run_id": request.run_id,
        },
    )
    result = await traced_tool_call(
        function,
        tool,
        arguments,
        run_id=request.run_id,
        call_id=f"memory-{request.task_id}",
        span_key=request.span_key,
        max_attempts=settings.tool_max_attempts,
    )
    if not result.ok:
        log.warning("memory store failed for run %s: %s", request.run_id, result.error)
    stored = MemoryStored.model_validate(
        {
            "stored": result.ok,
            "status": result.status,
            "error": result.error,
            "function": function.name,
            "attempts": result.attempts,
            "timing": activity_timing(started),
            **({"away": result.error or "the memory tool is away"} if is_away(result) else {}),
        }
    )
    return stored.model_dump(mode="json", exclude={"reason"} | (set() if stored.away else {"away"}))


@bp.activity_trigger(input_name="payload")
async def publish_events(payload: dict[str, Any]) -> dict[str, Any]:
    """Publish the run's events before it waits for a person or an outside event (nothing else to do)."""
    await take_input(PublishEventsInput, payload)
    return {}


@bp.activity_trigger(input_name="payload")
async def record_run(payload: dict[str, Any]) -> dict[str, Any]:
    """Publish the run's closing events and report its root span; the orchestrator itself emits nothing."""
    request = await take_input(RecordRunInput, payload)
    await run_trace.run_span(
        request.run_id,
        started_at=request.started_at,
        model=request.model or "",
        usage=request.usage,
        outcome=request.outcome,
        stop_reason=request.stop_reason,
    )
    return RunRecorded(trace_id=run_trace.trace_id_hex(request.run_id)).model_dump(mode="json")


def _note_texts(value: Any) -> list[str]:
    items = value.get("items") or value.get("notes") or value.get("results") if isinstance(value, dict) else value
    texts: list[str] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            note = item.get("note", item)
            title = str(note.get("title") or "")
            content = str(note.get("content") or note.get("body") or "")
            texts.append(f"{title}: {content}" if title else content)
    return texts


@bp.activity_trigger(input_name="payload")
async def recall_memory(payload: dict[str, Any]) -> list[str]:
    """Notes relevant to a task, from this run's memory."""
    request = await take_input(RecallMemoryInput, payload)
    settings = get_settings()
    found = await catalog_function(settings.memory_tool, settings.memory_search_operation)
    if found is None:
        return []
    function, tool = found
    arguments = _fit_arguments(
        function,
        {
            "query": request.query[:200],
            "q": request.query[:200],
            "run_id": request.run_id,
            "limit": 5,
        },
    )
    # A lookup: one attempt, since a missing memory only makes the context thinner.
    result = await traced_tool_call(
        function,
        tool,
        arguments,
        run_id=request.run_id,
        call_id="recall",
        span_key=request.span_key,
        max_attempts=1,
    )
    if not result.ok:
        return []
    return [text[:400] for text in _note_texts(_json_body(result))][:5]


PUBLISHING = (
    load_catalog, select_tools, llm_step, invoke_tool, store_memory, recall_memory, publish_events, record_run
)  # fmt: skip
"""The activities that publish the events an orchestrator hands them (see AgentRun._call)."""
