"""The run API: start, list, watch, approve, cancel, and the callback tools use to report back.

Every route but the callback and the console page needs the function key (function-level auth
on Azure; the local host applies the same convention). Bodies are validated here and errors say
which field is wrong.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import asdict
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from . import run_control
from .activities import idempotency_key, invoke_with_retries
from .callbacks import verify_callback
from .catalog_source import catalog_function, load_catalog_now
from .http_responses import error_response as _error
from .http_responses import json_response as _json
from .http_responses import read_json_body as _body
from .live_events import now_ms, publish
from .live_progress import callback_event as callback_ended_event
from .network import AGENT_TASK_ORCHESTRATOR
from .orchestration import ORCHESTRATOR_NAME, callback_event
from .run_api_spec import run_api_spec
from .run_control import FINISHED, RunControlError, event_stream_of, find_run, pending_entry
from .run_request import RunRequestError
from .settings import get_settings

__all__ = ["bp"]

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


def _control_error(exc: RunControlError) -> func.HttpResponse:
    return _error(exc.status, exc.message, exc.field)


def _base(req: func.HttpRequest) -> str:
    url: str = req.url
    scheme_end = url.find("://") + 3
    path_start = url.find("/", scheme_end)
    return url if path_start < 0 else url[:path_start]


def _run_links(req: func.HttpRequest, run_id: str) -> dict[str, str]:
    base = f"{_base(req)}/api/runs/{run_id}"
    return {
        "id": run_id,
        "status_url": base,
        "cancel_url": f"{base}/cancel",
        "approvals_url": f"{base}/approvals",
    }


@bp.route(route="api/runs", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Start a run; 202 with the URLs to follow and steer it."""
    try:
        run_id = await run_control.start_run(client, _body(req))
    except RunRequestError as exc:
        return _error(400, exc.message, exc.field)
    except RunControlError as exc:
        return _control_error(exc)
    links = _run_links(req, run_id)
    return _json(links, 202, headers={"Location": links["status_url"]})


@bp.route(route="api/runs", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def list_runs(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Runs, newest first; ``status`` filters by runtime status, ``limit`` caps the list."""
    wanted = {s.strip() for s in (req.params.get("status") or "").split(",") if s.strip()}
    try:
        limit = int(req.params.get("limit") or 50)
    except ValueError:
        return _error(400, "limit must be an integer", "limit")
    try:
        return _json(await run_control.list_runs(client, wanted, limit))
    except RunControlError as exc:
        return _control_error(exc)


@bp.route(route="api/runs/{run_id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def get_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """A run's status, live progress and, once finished, its report."""
    try:
        return _json(await run_control.run_view(client, req.route_params["run_id"]))
    except RunControlError as exc:
        return _control_error(exc)


@bp.route(route="api/runs/{run_id}/timeline", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def get_timeline(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """A run's model steps, tool calls and waits on one time axis, with the metrics built from them."""
    try:
        return _json(await run_control.run_timeline(client, req.route_params["run_id"]))
    except RunControlError as exc:
        return _control_error(exc)


@bp.route(route="api/runs/{run_id}/approvals/{call_id}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def decide_approval(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Approve or deny a call the run is waiting on."""
    run_id, call_id = req.route_params["run_id"], req.route_params["call_id"]
    try:
        body = _body(req)
    except RunRequestError as exc:
        return _error(400, exc.message, exc.field)
    if not isinstance(body, dict):
        return _error(400, "approve: a boolean is required", "approve")
    try:
        await run_control.decide_approval(
            client, run_id, call_id, body.get("approve"), body.get("comment", ""), body.get("input")
        )
    except RunControlError as exc:
        return _control_error(exc)
    return _json({"id": run_id, "call_id": call_id, "approve": body["approve"]}, 202)


@bp.route(route="api/runs/{run_id}/cancel", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def cancel_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Stop a run promptly: it starts no new activity and reports what it had done."""
    run_id = req.route_params["run_id"]
    try:
        await run_control.cancel_run(client, run_id)
    except RunControlError as exc:
        return _control_error(exc)
    return _json({"id": run_id, "status": "cancelling"}, 202)


class _CallbackGate:
    """Which callbacks this app instance has accepted: each is taken once, while its call waits.

    The run's progress lists the calls waiting for a callback, but it changes only once the run
    has taken the event; a repeat arriving meanwhile is refused here. Accepting (check, raise,
    remember) happens under one lock, so two deliveries at once cannot both pass the check.
    """

    def __init__(self, remembered: int = 10_000) -> None:
        self._lock = asyncio.Lock()
        self._accepted: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._remembered = remembered

    @property
    def lock(self) -> asyncio.Lock:
        return self._lock

    def seen(self, run_id: str, call_id: str) -> bool:
        return (run_id, call_id) in self._accepted

    def accept(self, run_id: str, call_id: str) -> None:
        self._accepted[(run_id, call_id)] = None
        while len(self._accepted) > self._remembered:
            self._accepted.popitem(last=False)


_callbacks = _CallbackGate()


@bp.route(route="api/runs/{run_id}/callbacks/{call_id}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def tool_callback(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """A tool reports back on an asynchronous operation; the per-run signature is the credential.

    Accepted once, while the call waits (202); a repeat or a callback for a call that is not
    waiting gets 409, one for a finished run 410, and neither reaches the run's history.
    """
    run_id, call_id = req.route_params["run_id"], req.route_params["call_id"]
    if not verify_callback(get_settings().callback_secret, run_id, call_id, req.params.get("sig") or ""):
        return _error(401, "invalid or missing callback signature")
    try:
        body = _body(req)
    except RunRequestError as exc:
        return _error(400, exc.message, exc.field)
    async with _callbacks.lock:
        # A network's agent calls the tool from its sub-run, which is where the callback goes.
        status = await find_run(client, run_id, (ORCHESTRATOR_NAME, AGENT_TASK_ORCHESTRATOR))
        if status is None:
            return _error(404, f"no run with id {run_id!r}")
        if status.runtime_status and status.runtime_status.value in FINISHED:
            return _error(410, f"run {run_id} has already finished")
        if _callbacks.seen(run_id, call_id):
            return _error(409, f"the callback for call {call_id!r} of run {run_id} was already accepted")
        waiting = pending_entry(status, "waiting", call_id)
        if waiting is None or waiting.get("kind") != "callback":
            return _error(409, f"run {run_id} is not waiting for a callback on call {call_id!r}")
        await client.raise_event(run_id, callback_event(call_id), body)
        _callbacks.accept(run_id, call_id)
    event, key = callback_ended_event(run_id, call_id, "received", now_ms())
    await publish(event_stream_of(status), [(key, event)])
    return _json({"id": run_id, "call_id": call_id, "accepted": True}, 202)


@bp.route(route="api/runs/{run_id}/replies/{call_id}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def reply_to_message(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """A person answers a message the run sent and waits on; the reply goes through the mailbox."""
    run_id, call_id = req.route_params["run_id"], req.route_params["call_id"]
    try:
        body = _body(req)
    except RunRequestError as exc:
        return _error(400, exc.message, exc.field)
    reply = body.get("reply") if isinstance(body, dict) else None
    sender = body.get("from") if isinstance(body, dict) else None
    if not isinstance(reply, str) or not reply.strip() or len(reply) > 50_000:
        return _error(400, "reply: a non-empty string of at most 50000 characters is required", "reply")
    if sender is not None and not (isinstance(sender, str) and sender.strip()):
        return _error(400, "from: a non-empty string when given", "from")
    status = await find_run(client, run_id)
    if status is None:
        return _error(404, f"no run with id {run_id!r}")
    waiting = pending_entry(status, "waiting", call_id)
    response = (waiting or {}).get("response")
    message_id = response.get("id") if isinstance(response, dict) else None
    if waiting is None or not isinstance(message_id, str):
        return _error(404, f"run {run_id} is not waiting for a reply to call {call_id!r}")
    settings = get_settings()
    found = await catalog_function(settings.mailbox_tool, settings.mailbox_reply_operation)
    if found is None:
        return _error(409, f"no {settings.mailbox_reply_operation} operation on tool {settings.mailbox_tool!r}")
    function, tool = found
    arguments: dict[str, Any] = {"message_id": message_id, "reply": reply}
    if sender:
        arguments["from"] = sender
    result = await invoke_with_retries(
        function,
        tool,
        arguments,
        run_id=run_id,
        call_id=f"reply-{call_id}-{idempotency_key(reply, '')[:8]}",
        max_attempts=settings.tool_max_attempts,
    )
    if not result.ok:
        return _error(502, f"the mailbox did not take the reply: {result.error}")
    return _json({"id": run_id, "call_id": call_id, "message_id": message_id, "accepted": True}, 202)


def _catalog_summary(full: bool = False, only: str | None = None, reconvert: bool = False) -> dict[str, Any]:
    catalog = load_catalog_now(reconvert=reconvert)
    tools = []
    for name, info in sorted(catalog.tools.items()):
        if only is not None and name != only:
            continue
        functions = [f for f in catalog.functions if f.tool == name]
        tools.append(
            {
                "name": name,
                "base_url": info.base_url,
                "tags": list(info.tags),
                "functions": [
                    {
                        "name": f.name,
                        "description": f.description,
                        "method": f.method,
                        "path": f.path,
                        "needs_approval": f.needs_approval,
                        "size_chars": f.size_chars,
                        "approx_tokens": f.approx_tokens,
                        **({"parameters": f.parameters} if full else {}),
                    }
                    for f in functions
                ],
            }
        )
    problems = [asdict(p) for p in catalog.problems]
    return {"tools": tools, "problems": problems}


@bp.route(route="api/tools", methods=["GET"])
def list_tools(req: func.HttpRequest) -> func.HttpResponse:
    """The converted catalog as the next run will see it."""
    return _json(_catalog_summary())


@bp.route(route="api/tools/reload", methods=["POST"])
def reload_tools(req: func.HttpRequest) -> func.HttpResponse:
    """Re-read the registry and convert every spec again now (runs pick up changes at their next start anyway)."""
    return _json(_catalog_summary(reconvert=True))


@bp.route(route="api/tools/{name}", methods=["GET"])
def get_tool(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params["name"]
    summary = _catalog_summary(full=True, only=name)
    if not summary["tools"]:
        return _error(404, f"no tool named {name!r} in the registry")
    return _json(summary["tools"][0])


@bp.route(route="api/openapi.json", methods=["GET"])
def run_api_openapi(req: func.HttpRequest) -> func.HttpResponse:
    """This API's OpenAPI document (also exported to specs/run_api.openapi.json)."""
    return _json(run_api_spec())
