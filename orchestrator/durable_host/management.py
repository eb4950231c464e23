"""The durable management HTTP API (``/runtime/webhooks/durabletask/...``), as the real host answers it.

The same handlers serve the public, key-protected path and the SDK's loopback RPC path.
Status codes follow ``HttpApiHandler.cs``: 202 while running and 200 when finished for status
queries, 404 for unknown instances, 410 for events or commands sent to finished instances,
400 for malformed JSON or instance ids; a duplicate id of an active instance gets 409.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from starlette.responses import JSONResponse, Response

from durable_host.binding import BindingContext, check_status_payload
from durable_host.engine import Engine
from durable_host.errors import BadRequestError, ManagementError
from durable_host.history import EventType, dtfx_time, parse_time
from durable_host.store import TERMINAL_STATUSES, InstanceFilter, InstanceRow, MessageKind, RuntimeStatus

__all__ = ["handle_management", "status_json"]

_TRUE = {"true", "1", "yes"}


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


def _flag(query: Mapping[str, str], name: str, default: bool = False) -> bool:
    for key, value in query.items():
        if key.lower() == name.lower():
            return value.strip().lower() in _TRUE
    return default


def _param(query: Mapping[str, str], name: str) -> str | None:
    for key, value in query.items():
        if key.lower() == name.lower():
            return value
    return None


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
                raise BadRequestError(
                    f"runtimeStatus {part.strip()!r} is not one of {', '.join(RuntimeStatus)}"
                )
            chosen.add(names[key])
        statuses = frozenset(chosen)
    return InstanceFilter(
        created_from=when("createdTimeFrom"),
        created_to=when("createdTimeTo"),
        statuses=statuses,
        id_prefix=_param(query, "instanceIdPrefix"),
    )


def _json_body(body: bytes) -> str | None:
    """The body as JSON text, None when empty; 400 when it is not JSON."""
    if not body.strip():
        return None
    try:
        text = body.decode("utf-8")
        json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequestError(f"The request body is not valid JSON: {exc}") from exc
    return text


def _accepted(ctx: BindingContext, instance_id: str) -> Response:
    payload = check_status_payload(ctx, instance_id)
    return JSONResponse(
        payload, status_code=202, headers={"Location": payload["statusQueryGetUri"], "Retry-After": "10"}
    )


async def handle_management(
    engine: Engine, ctx: BindingContext, method: str, path: str, query: Mapping[str, str], body: bytes
) -> Response:
    """Serve one management request; ``path`` is relative to the durabletask base."""
    try:
        return _dispatch(
            engine, ctx, method.upper(), [unquote(p) for p in path.strip("/").split("/") if p], query, body
        )
    except ManagementError as exc:
        return JSONResponse(
            {"Message": exc.message, "ExceptionMessage": exc.message}, status_code=exc.status_code
        )


def _dispatch(
    engine: Engine, ctx: BindingContext, method: str, parts: list[str], query: Mapping[str, str], body: bytes
) -> Response:
    if parts and parts[0] == "orchestrators" and len(parts) in (2, 3):
        _require(method, "POST")
        text = _json_body(body)
        input_json = None
        if text is not None:
            input_json = json.dumps(json.loads(text))
        row = engine.start_new(parts[1], parts[2] if len(parts) == 3 else None, input_json)
        return _accepted(ctx, row.instance_id)
    if parts == ["instances"]:
        if method == "GET":
            rows = engine.store.list_instances(_filter(query))
            return JSONResponse([status_json(r, show_input=_flag(query, "showInput")) for r in rows])
        _require(method, "DELETE")
        flt = _filter(query)
        if flt.created_from is None:
            raise BadRequestError("createdTimeFrom is required to purge instances by filter.")
        deleted = engine.purge_matching(flt)
        if deleted == 0:
            return JSONResponse({"instancesDeleted": 0}, status_code=404)
        return JSONResponse({"instancesDeleted": deleted})
    if parts and parts[0] == "entities":
        return JSONResponse(
            {"Message": "Durable entities are not supported by the local durable host."}, status_code=501
        )
    if len(parts) < 2 or parts[0] != "instances":
        return JSONResponse({"Message": "No such management endpoint."}, status_code=404)
    instance_id = parts[1]
    if len(parts) == 2:
        if method == "GET":
            return _status(engine, ctx, instance_id, query)
        _require(method, "DELETE")
        deleted = engine.purge(instance_id)
        return JSONResponse({"instancesDeleted": deleted}, status_code=200 if deleted else 404)
    _require(method, "POST")
    action = parts[2]
    reason = _param(query, "reason")
    if action == "raiseEvent" and len(parts) == 4:
        engine.raise_event(instance_id, parts[3], _json_body(body))
        return Response(status_code=202)
    if len(parts) != 3:
        return JSONResponse({"Message": "No such management endpoint."}, status_code=404)
    if action in ("terminate", "suspend", "resume"):
        engine.control(instance_id, MessageKind(action), reason)
        return Response(status_code=202)
    if action == "restart":
        row = engine.get(instance_id)
        new_id = None if _flag(query, "restartWithNewInstanceId", default=True) else instance_id
        started = engine.start_new(row.name, new_id, row.input)
        return _accepted(ctx, started.instance_id)
    if action == "rewind":
        engine.get(instance_id)
        return JSONResponse(
            {"Message": "Rewind is not supported by the local durable host."}, status_code=501
        )
    return JSONResponse({"Message": f"Unknown instance operation '{action}'."}, status_code=404)


def _require(method: str, expected: str) -> None:
    if method != expected:
        raise _MethodNotAllowed(f"Method {method} is not allowed here; use {expected}.")


class _MethodNotAllowed(ManagementError):
    status_code = 405


def _status(engine: Engine, ctx: BindingContext, instance_id: str, query: Mapping[str, str]) -> Response:
    row = engine.get(instance_id)
    payload = status_json(row, show_input=_flag(query, "showInput", default=True))
    if _flag(query, "showHistory"):
        payload["historyEvents"] = _history_view(engine, row, _flag(query, "showHistoryOutput"))
    if row.status in TERMINAL_STATUSES:
        code = 200
        if row.status is RuntimeStatus.FAILED and _flag(query, "returnInternalServerErrorOnFailure"):
            code = 500
        return JSONResponse(payload, status_code=code)
    location = check_status_payload(ctx, instance_id)["statusQueryGetUri"]
    return JSONResponse(payload, status_code=202, headers={"Location": location, "Retry-After": "5"})
