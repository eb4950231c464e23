"""The durable management HTTP API (``/runtime/webhooks/durabletask/...``), as the real host answers it.

The same handlers serve the public, key-protected path and the SDK's loopback RPC path.
Routing, status codes and error bodies follow ``HttpApiHandler.cs`` and ``DurableClient.cs`` of
Azure/azure-functions-durable-extension at a7c6d694 (``src/WebJobs.Extensions.DurableTask/``):

- a route matched with the wrong method, an unknown path, an unknown instance: 404, no body;
- status: 202 (with ``Location``) while Running/Pending/Suspended, 200 when finished (a Failed
  one 500 only with ``returnInternalServerErrorOnFailure=true``);
- events, terminate, suspend, resume or rewind for a finished instance: 410, no body;
- an ArgumentException (unknown orchestrator, bad instance id): 400 ``{"Message": "One or more
  of the arguments submitted is incorrect", "ExceptionMessage", "ExceptionType", "StackTrace"}``;
  a body that is not JSON: 400 ``"Invalid JSON content"``; an event that is not
  application/json: 400 ``{"Message": "Only application/json request content is supported"}``;
- start with the id of an instance that has not finished: 500, DTFx's
  OrchestrationAlreadyExistsException (a finished one is replaced);
- start or restart with ``timeout`` and ``pollingInterval`` (seconds) waits for the instance:
  200 with the output when it completes, its status when it fails or is terminated, the 202
  check-status response if it is still running at the timeout;
- rewind and entities: 501 (outside what this host implements).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import orjson
from starlette.responses import JSONResponse, Response

from durable_host.binding import BindingContext, check_status_payload
from durable_host.engine import Engine
from durable_host.errors import (
    BadRequestError,
    InstanceGone,
    InstanceNotFound,
    InvalidJsonError,
    ManagementError,
    UnsupportedContent,
)
from durable_host.history import EventType, dtfx_time, parse_time
from durable_host.store import TERMINAL_STATUSES, InstanceFilter, InstanceRow, MessageKind, RuntimeStatus

__all__ = ["handle_management", "status_json"]

log = logging.getLogger("durable_host")

# TimeSpan.MaxValue in seconds: TimeSpan.FromSeconds throws OverflowException beyond it.
_MAX_TIMESPAN_SECONDS = 922_337_203_685.477
DEFAULT_PAGE_SIZE = 100
CONTINUATION_HEADER = "x-ms-continuation-token"
_REWIND_GONE = frozenset({RuntimeStatus.COMPLETED, RuntimeStatus.CANCELED, RuntimeStatus.TERMINATED})


def _loads(text: str | None) -> Any:
    return json.loads(text) if text is not None else None


def _public_time(stamp: str) -> str:
    return stamp.split(".")[0] + "Z" if "." in stamp else stamp


def _history_view(engine: Engine, row: InstanceRow, with_output: bool) -> list[dict[str, Any]]:
    """A readable history like the real host's ``showHistory`` (scheduling merged into completions)."""
    events = [json.loads(text) for text in engine.history_events(row.instance_id)]
    scheduled: dict[int, dict[str, Any]] = {}
    view: list[dict[str, Any]] = []
    for event in events:
        kind = event["EventType"]
        if kind in (EventType.ORCHESTRATOR_STARTED, EventType.ORCHESTRATOR_COMPLETED):
            continue
        if kind in (EventType.TASK_SCHEDULED, EventType.SUB_ORCHESTRATION_INSTANCE_CREATED):
            scheduled[event["EventId"]] = event
            continue
        item: dict[str, Any] = {
            "EventType": EventType(kind).name.title().replace("_", ""),
            "Timestamp": event["Timestamp"],
        }
        if kind == EventType.EXECUTION_STARTED:
            item["FunctionName"] = event.get("Name")
            if with_output:
                item["Input"] = event.get("Input")
        elif kind in (
            EventType.TASK_COMPLETED,
            EventType.TASK_FAILED,
            EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
            EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
        ):
            origin = scheduled.get(event["TaskScheduledId"], {})
            item["FunctionName"] = origin.get("Name")
            item["ScheduledTime"] = origin.get("Timestamp")
            if "Result" in event and with_output:
                item["Result"] = _maybe_json(event.get("Result"))
            if "Reason" in event:
                item["Reason"] = event.get("Reason")
                item["Details"] = event.get("Details")
        elif kind in (EventType.TIMER_CREATED, EventType.TIMER_FIRED):
            item["FireAt"] = event.get("FireAt")
        elif kind == EventType.EVENT_RAISED:
            item["Name"] = event.get("Name")
            if with_output:
                item["Input"] = event.get("Input")
        elif kind == EventType.EXECUTION_COMPLETED:
            item["OrchestrationStatus"] = str(row.status)
            if with_output:
                item["Result"] = _maybe_json(event.get("Result"))
        view.append(item)
    return view


def _maybe_json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def status_json(row: InstanceRow, *, show_input: bool = True) -> dict[str, Any]:
    return {
        "name": row.name,
        "instanceId": row.instance_id,
        "runtimeStatus": str(row.status),
        "input": _loads(row.input) if show_input else None,
        "customStatus": _loads(row.custom_status),
        "output": _loads(row.output),
        "createdTime": _public_time(row.created_time),
        "lastUpdatedTime": _public_time(row.last_updated_time),
    }


def _param(query: Mapping[str, str], name: str) -> str | None:
    """A query parameter by case-insensitive name, as ``NameValueCollection`` looks it up."""
    for key, value in query.items():
        if key.lower() == name.lower():
            return value
    return None


def _bool(query: Mapping[str, str], name: str, default: bool = False) -> bool:
    """``bool.TryParse``: "true" or "false" in any case; anything else leaves the default."""
    raw = (_param(query, name) or "").strip().lower()
    return raw == "true" if raw in ("true", "false") else default


def _seconds(query: Mapping[str, str], name: str) -> float | None:
    """``TryGetTimeSpanQueryParameterValue``: a double of seconds, None when it does not parse."""
    raw = (_param(query, name) or "").strip()
    if not raw or "_" in raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    if math.isnan(value):
        raise BadRequestError("TimeSpan does not accept floating point Not-a-Number values.")
    if abs(value) > _MAX_TIMESPAN_SECONDS:
        raise _TimeSpanOverflow("TimeSpan overflowed because the duration is too long.")
    return value


class _TimeSpanOverflow(ManagementError):
    status_code = 500
    default_summary = "Something went wrong while processing your request"
    exception_type = "System.OverflowException"


def _dotnet_seconds(value: float) -> str:
    """A double as .NET prints it (``5``, ``0.5``), for messages that quote one."""
    return str(int(value)) if value.is_integer() else repr(value)


def _filter(query: Mapping[str, str]) -> InstanceFilter:
    def when(name: str) -> str | None:
        raw = _param(query, name)
        if raw is None or raw == "":
            return None
        try:
            return dtfx_time(parse_time(raw))
        except ValueError as exc:
            raise BadRequestError(f"{name} is not a valid timestamp: {raw!r}") from exc

    statuses: frozenset[RuntimeStatus] | None = None
    raw_status = _param(query, "runtimeStatus")
    if raw_status:
        names = {s.lower(): s for s in RuntimeStatus}
        chosen = set()
        for part in raw_status.split(","):
            key = part.strip().lower()
            if key not in names:
                raise BadRequestError(f"runtimeStatus {part.strip()!r} is not one of {', '.join(RuntimeStatus)}")
            chosen.add(names[key])
        statuses = frozenset(chosen)
    return InstanceFilter(
        created_from=when("createdTimeFrom"),
        created_to=when("createdTimeTo"),
        statuses=statuses,
        id_prefix=_param(query, "instanceIdPrefix"),
    )


MAX_JSON_DEPTH = 64
"""The default MaxDepth of Json.NET, the host's JSON reader. Deeper input would also break Python's
own parser where the SDK reads it back, since its recursion limit is near 1,000."""


def _parse_json(body: bytes) -> str:
    """The body as JSON text; ``InvalidJsonError`` when it is not JSON (an empty body included)."""
    try:
        text = body.decode("utf-8")
        value = orjson.loads(body)  # strict: NaN and lone surrogates are not JSON
    except (UnicodeDecodeError, orjson.JSONDecodeError) as exc:
        raise InvalidJsonError(f"The request body is not valid JSON: {exc}") from exc
    if _nesting(value) > MAX_JSON_DEPTH:
        depth = f"the reader's MaxDepth of {MAX_JSON_DEPTH} has been exceeded"
        raise InvalidJsonError(f"The request body is not valid JSON: {depth}")
    return text


def _nesting(value: Any) -> int:
    """How deeply objects and arrays nest in ``value`` (an iterative walk: no recursion limit applies)."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, level = pending.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            pending.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def _accepted(ctx: BindingContext, instance_id: str) -> Response:
    payload = check_status_payload(ctx, instance_id)
    return JSONResponse(
        payload, status_code=202, headers={"Location": payload["statusQueryGetUri"], "Retry-After": "10"}
    )


def _error_response(exc: ManagementError) -> Response:
    """The body ``HttpRequestMessageExtensions.CreateErrorResponse`` builds (a7c6d694)."""
    if exc.summary is None:
        return Response(status_code=exc.status_code)
    body: dict[str, Any] = {"Message": exc.summary}
    if exc.exception_type is not None:
        body |= {"ExceptionMessage": exc.message, "ExceptionType": exc.exception_type, "StackTrace": None}
    return JSONResponse(body, status_code=exc.status_code)


@dataclass(frozen=True, kw_only=True)
class _Request:
    """One management request, its path split into decoded segments."""

    engine: Engine
    ctx: BindingContext
    method: str
    parts: list[str]
    query: Mapping[str, str]
    body: bytes
    content_type: str | None
    headers: Mapping[str, str]


async def handle_management(
    engine: Engine,
    ctx: BindingContext,
    method: str,
    path: str,
    query: Mapping[str, str],
    body: bytes,
    content_type: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Serve one management request; ``path`` is relative to the durabletask base, still percent-encoded."""
    request = _Request(
        engine=engine,
        ctx=ctx,
        method=method.upper(),
        parts=[unquote(p) for p in path.strip("/").split("/") if p],
        query=query,
        body=body,
        content_type=content_type,
        headers=headers or {},
    )
    try:
        return await _route(request)
    except ManagementError as exc:
        return _error_response(exc)
    except Exception:
        log.exception("management request %s %s failed", method, path)
        return JSONResponse({"Message": "Something went wrong while processing your request"}, status_code=500)


_NOT_FOUND = 404


async def _route(req: _Request) -> Response:
    """``HttpApiHandler.HandleRequestAsync``: the first template that matches wins; a matched
    route called with another method, and any path no template matches, is a bare 404."""
    parts, method = req.parts, req.method
    head = parts[0].lower() if parts else ""
    if head == "orchestrators" and len(parts) in (2, 3):
        if method != "POST":
            return Response(status_code=_NOT_FOUND)
        return await _start(req, parts[1], parts[2] if len(parts) == 3 else None)
    if head == "entities" and len(parts) <= 3:
        if method not in ("GET", "POST", "DELETE"):
            return Response(status_code=_NOT_FOUND)
        return JSONResponse(
            {"Message": "Durable entities are not implemented by the local durable host."}, status_code=501
        )
    if head == "instances" and len(parts) == 1:
        if method == "GET":
            return _list(req)
        if method == "DELETE":
            return _purge_matching(req)
    elif head == "instances" and len(parts) == 2:
        if method == "GET":
            return _status(req.engine, req.ctx, parts[1], req.query)
        if method == "DELETE":
            deleted = req.engine.purge(parts[1])
            return JSONResponse({"instancesDeleted": deleted}) if deleted else Response(status_code=_NOT_FOUND)
    elif head == "instances" and len(parts) == 3 and method == "POST":
        operation = _OPERATIONS.get(parts[2].lower())
        if operation is not None:
            return await operation(req, parts[1])
    elif head == "instances" and len(parts) == 4 and parts[2].lower() == "raiseevent" and method == "POST":
        return _raise_event(req, parts[1], parts[3])
    return Response(status_code=_NOT_FOUND)


def _list(req: _Request) -> Response:
    """``HandleGetStatusRequestAsync`` for all instances, one page at a time.

    ``top`` (an int; anything else leaves the default of 100, ``OrchestrationStatusQueryCondition.PageSize``)
    sizes the page and the ``x-ms-continuation-token`` request header resumes after the previous
    one. The response always carries that header, empty on the last page, since the real host
    adds it even when the backend's token is null. The SDK's ``get_status_all`` does not follow
    it, so, as on Azure, it sees the first page only.
    """
    size = _int(req.query, "top")
    size = DEFAULT_PAGE_SIZE if size is None or size < 1 else size
    after = _decode_token(req.headers.get("x-ms-continuation-token") or "")
    rows = req.engine.store.list_instances(_filter(req.query), limit=size + 1, after=after)
    more = len(rows) > size
    rows = rows[:size]
    token = _encode_token(rows[-1]) if more else ""
    show_input = _bool(req.query, "showInput", default=True)
    return JSONResponse([status_json(r, show_input=show_input) for r in rows], headers={CONTINUATION_HEADER: token})


def _int(query: Mapping[str, str], name: str) -> int | None:
    """``int.TryParse``: None when the parameter is missing or not a 32-bit integer."""
    raw = (_param(query, name) or "").strip()
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if -(2**31) <= value < 2**31 else None


def _encode_token(row: InstanceRow) -> str:
    """An opaque token naming the last row of a page."""
    return base64.urlsafe_b64encode(json.dumps([row.created_time, row.instance_id]).encode()).decode()


def _decode_token(token: str) -> tuple[str, str] | None:
    if not token:
        return None
    try:
        created, instance_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(created, str) or not isinstance(instance_id, str):
            raise ValueError("not a pair of strings")
    except (ValueError, TypeError, binascii.Error) as exc:
        raise BadRequestError(f"The x-ms-continuation-token header is not a token this API returned: {exc}") from exc
    return created, instance_id


def _purge_matching(req: _Request) -> Response:
    if not _param(req.query, "createdTimeFrom"):
        # HandleDeleteHistoryWithFiltersRequestAsync answers with a bare JSON string.
        return JSONResponse("Please provide value for 'createdTimeFrom' parameter.", status_code=400)
    deleted = req.engine.purge_matching(_filter(req.query))
    if deleted == 0:
        return Response(status_code=_NOT_FOUND)
    return JSONResponse({"instancesDeleted": deleted})


async def _start(req: _Request, name: str, instance_id: str | None) -> Response:
    """``HandleStartOrchestratorRequestAsync``: the body is parsed first, then the instance starts."""
    input_json = None
    if req.body.strip():
        input_json = json.dumps(json.loads(_parse_json(req.body)))
    row = req.engine.start_new(name, instance_id, input_json)
    return await _check_status_or_wait(req, row.instance_id)


async def _check_status_or_wait(req: _Request, instance_id: str) -> Response:
    """The 202 check-status response, or with ``timeout`` and ``pollingInterval`` both given,
    ``WaitForCompletionOrCreateCheckStatusResponseAsync``: its ``retryInterval > timeout``
    check included, but the wait is on the engine's completion, not a polling loop."""
    timeout = _seconds(req.query, "timeout")
    interval = _seconds(req.query, "pollingInterval")
    if timeout is None or interval is None:
        return _accepted(req.ctx, instance_id)
    if interval > timeout:
        raise BadRequestError(
            f"Total timeout {_dotnet_seconds(timeout)} should be bigger than retry timeout {_dotnet_seconds(interval)}"
        )
    row = await req.engine.wait_finished(instance_id, timeout)
    if row is None or row.status not in TERMINAL_STATUSES:
        return _accepted(req.ctx, instance_id)
    if row.status is RuntimeStatus.COMPLETED:
        return JSONResponse(_loads(row.output))
    return _status(req.engine, req.ctx, instance_id, req.query, failure_as_500=False)


def _raise_event(req: _Request, instance_id: str, event_name: str) -> Response:
    """``HandleRaiseEventRequestAsync``: 404, 410, then the content type, then the JSON."""
    _active(req.engine, instance_id, gone=TERMINAL_STATUSES)
    media_type = (req.content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedContent("The event's Content-Type is not application/json.")
    req.engine.raise_event(instance_id, event_name, _parse_json(req.body))
    return Response(status_code=202)


def _active(engine: Engine, instance_id: str, *, gone: frozenset[RuntimeStatus]) -> InstanceRow:
    row = engine.get(instance_id)
    if row.status in gone:
        raise InstanceGone(f"The instance '{instance_id}' is in the {row.status} state.")
    return row


def _command(kind: MessageKind) -> Callable[[_Request, str], Awaitable[Response]]:
    async def command(req: _Request, instance_id: str) -> Response:
        req.engine.control(instance_id, kind, _param(req.query, "reason"))
        return Response(status_code=202)

    return command


async def _rewind(req: _Request, instance_id: str) -> Response:
    _active(req.engine, instance_id, gone=_REWIND_GONE)
    return JSONResponse(
        {
            "Message": "Rewind is not implemented by the local durable host: it runs start, status, "
            "list, purge, raiseEvent, terminate, suspend, resume and restart."
        },
        status_code=501,
    )


async def _restart(req: _Request, instance_id: str) -> Response:
    """``HandleRestartInstanceRequestAsync``: any ArgumentException gets its own summary."""
    try:
        try:
            row = req.engine.get(instance_id)
        except InstanceNotFound as exc:
            # DurableClient.RestartAsync, typo included.
            raise BadRequestError(f"An orchestrastion with the instanceId {instance_id} was not found.") from exc
        new_id = None if _bool(req.query, "restartWithNewInstanceId", default=True) else instance_id
        started = req.engine.start_new(row.name, new_id, row.input)
        return await _check_status_or_wait(req, started.instance_id)
    except BadRequestError as exc:
        raise BadRequestError(exc.message, summary="InstanceId does not match a valid orchestration instance.") from exc


_OPERATIONS: dict[str, Callable[[_Request, str], Awaitable[Response]]] = {
    "terminate": _command(MessageKind.TERMINATE),
    "suspend": _command(MessageKind.SUSPEND),
    "resume": _command(MessageKind.RESUME),
    "rewind": _rewind,
    "restart": _restart,
}


def _status(
    engine: Engine,
    ctx: BindingContext,
    instance_id: str,
    query: Mapping[str, str],
    *,
    failure_as_500: bool | None = None,
) -> Response:
    """``HandleGetStatusRequestAsync``; ``failure_as_500`` overrides the query when given."""
    row = engine.get(instance_id)
    payload = status_json(row, show_input=_bool(query, "showInput", default=True))
    if _bool(query, "showHistory"):
        payload["historyEvents"] = _history_view(engine, row, _bool(query, "showHistoryOutput"))
    if row.status in TERMINAL_STATUSES:
        if failure_as_500 is None:
            failure_as_500 = _bool(query, "returnInternalServerErrorOnFailure")
        failed = row.status is RuntimeStatus.FAILED and failure_as_500
        return JSONResponse(payload, status_code=500 if failed else 200)
    location = check_status_payload(ctx, instance_id)["statusQueryGetUri"]
    return JSONResponse(payload, status_code=202, headers={"Location": location, "Retry-After": "5"})
