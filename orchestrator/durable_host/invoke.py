"""Calling the app's functions the way the Python worker does, with the host's payloads.

Activities get their input through azure-functions' ``ActivityTriggerConverter`` and their
return value is encoded by it (protocol §3.1); failures become DTFx TaskFailed details with
the Reason the .NET host writes. Orchestrators get an ``OrchestrationContext`` holding the
episode body. The built-in HTTP activity behind ``context.call_http`` is run here too.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import traceback
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Any

import azure.functions as func
import httpx
from azure.functions._durable_functions import OrchestrationContext
from azure.functions.durable_functions import ActivityTriggerConverter
from azure.functions.meta import Datum

from durable_host import history as h
from durable_host.discovery import ActivityFunction
from durable_host.episode import OrchestratorReply
from durable_host.history import Event

__all__ = ["HTTP_ACTIVITY", "http_activity_client", "run_activity", "run_orchestrator"]

log = logging.getLogger("durable_host")

HTTP_ACTIVITY = "BuiltIn::HttpActivity"
HTTP_ACTIVITY_TIMEOUT = httpx.Timeout(100.0)
_HOST_DIR = os.path.dirname(os.path.abspath(__file__))


def run_orchestrator(fn: Callable[..., Any], body: str) -> OrchestratorReply:
    """Run one episode of an orchestrator (in a worker thread: replay is CPU-bound)."""
    try:
        result = fn(OrchestrationContext(body))
    except Exception as exc:  # the SDK raises uncaught orchestrator errors, with state attached
        return OrchestratorReply(error=str(exc))
    if isinstance(result, bytes):
        result = result.decode()
    if not isinstance(result, str):
        return OrchestratorReply(error=f"orchestrator returned {type(result).__name__}, expected JSON text")
    return OrchestratorReply(text=result)


def _failure(name: str, exc: BaseException) -> tuple[str, str]:
    """Reason and Details as the .NET host writes them; the traceback shows only app frames."""
    reason = f"Activity function '{name}' failed: {exc}"
    summary = traceback.TracebackException.from_exception(exc)
    summary.stack = traceback.StackSummary.from_list(
        [frame for frame in summary.stack if not _is_host_frame(frame.filename)]
    )
    details = "".join(summary.format()).strip()
    return reason, details


def _is_host_frame(filename: str) -> bool:
    return filename.startswith(_HOST_DIR) or "concurrent/futures" in filename or "asyncio" in filename


async def run_activity(
    activities: dict[str, ActivityFunction],
    name: str,
    input_text: str | None,
    task_id: int,
    executor: Executor,
    http_client: httpx.AsyncClient,
    client_binding: str | None = None,
) -> Event:
    """Run an activity and return its TaskCompleted or TaskFailed event.

    ``client_binding`` is the durable client binding JSON, given to an activity that declares one.
    """
    if name == HTTP_ACTIVITY:
        return await _run_http_activity(input_text, task_id, http_client)
    activity = activities.get(name)
    now = datetime.now(UTC)
    if activity is None:
        reason = f"The function '{name}' doesn't exist, is disabled, or is not an activity or orchestrator function."
        return h.task_failed(now, task_id, reason, None)
    try:
        value = ActivityTriggerConverter.decode(Datum(input_text, "json"), trigger_metadata=None)
        kwargs = {activity.param: value}
        if activity.client_param:
            kwargs[activity.client_param] = client_binding
        if inspect.iscoroutinefunction(activity.fn):
            result = await activity.fn(**kwargs)
        else:
            result = await asyncio.get_running_loop().run_in_executor(executor, lambda: activity.fn(**kwargs))
        encoded = ActivityTriggerConverter.encode(result, expected_type=None)
        result_text = encoded.value if encoded is not None else None
    except Exception as exc:
        reason, details = _failure(name, exc)
        # The orchestrator gets the details too (as on Azure); the log is where they are kept.
        log.warning("activity %s (task %d) failed\n%s", name, task_id, details)
        return h.task_failed(datetime.now(UTC), task_id, reason, details)
    return h.task_completed(datetime.now(UTC), task_id, result_text)


def http_activity_client() -> httpx.AsyncClient:
    """The client for ``call_http`` activities, wherever activities run (host or worker)."""
    return httpx.AsyncClient(timeout=HTTP_ACTIVITY_TIMEOUT)


async def _run_http_activity(input_text: str | None, task_id: int, client: httpx.AsyncClient) -> Event:
    """``context.call_http``: send the request and return a DurableHttpResponse-shaped result."""
    try:
        request = json.loads(input_text or "null") or {}
        headers = {
            k: (", ".join(v) if isinstance(v, list) else str(v)) for k, v in (request.get("headers") or {}).items()
        }
        response = await client.request(
            str(request.get("method", "GET")).upper(),
            str(request["uri"]),
            content=request.get("content"),
            headers=headers,
        )
    except Exception as exc:
        reason, details = _failure(HTTP_ACTIVITY, exc)
        return h.task_failed(datetime.now(UTC), task_id, reason, details)
    result = {
        "statusCode": response.status_code,
        "headers": dict(response.headers),
        "content": response.text,
    }
    return h.task_completed(datetime.now(UTC), task_id, json.dumps(result))


def http_response_parts(result: Any) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of what an HTTP function returned (HttpResponse, str, bytes, dict)."""
    if isinstance(result, func.HttpResponse):
        headers = {k: v for k, v in result.headers.items()}
        if result.mimetype and "content-type" not in {k.lower() for k in headers}:
            charset = f"; charset={result.charset}" if result.charset else ""
            headers["Content-Type"] = result.mimetype + charset
        return result.status_code, headers, result.get_body() or b""
    if result is None:
        return 204, {}, b""
    if isinstance(result, bytes):
        return 200, {"Content-Type": "application/octet-stream"}, result
    if isinstance(result, str):
        return 200, {"Content-Type": "text/plain; charset=utf-8"}, result.encode()
    return 200, {"Content-Type": "application/json"}, json.dumps(result).encode()
