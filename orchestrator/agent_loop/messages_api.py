"""The conversation routes of the run API: send a message, read the conversation, abort a turn.

Behind the function key like the other run routes; the work is in run_messages.
"""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from . import run_messages
from .http_responses import error_response, json_response, read_json_body
from .run_control import RunControlError
from .run_request import RunRequestError

__all__ = ["bp"]

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


def _failed(exc: RunControlError) -> func.HttpResponse:
    response = error_response(exc.status, exc.message, exc.field)
    if exc.status == 429:
        response.headers["Retry-After"] = "1"
    return response


@bp.route(route="api/runs/{run_id}/messages", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def post_message(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """A person's message to the run: 202 with the stored message; the run takes it at its next chance."""
    run_id = req.route_params["run_id"]
    try:
        body = read_json_body(req)
    except RunRequestError as exc:
        return error_response(400, exc.message, exc.field)
    if not isinstance(body, dict):
        return error_response(400, "the request body must be a JSON object with author and text")
    unknown = sorted(set(body) - {"author", "text"})
    if unknown:
        return error_response(400, f"{unknown[0]}: unknown field (send author and text)", unknown[0])
    try:
        stored = await run_messages.send_message(client, run_id, body.get("author"), body.get("text"))
    except RunControlError as exc:
        return _failed(exc)
    return json_response(stored, 202)


@bp.route(route="api/runs/{run_id}/messages", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def get_messages(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """The run's conversation, oldest first, a page at a time (``after`` a sequence number, ``limit``)."""
    try:
        after = int(req.params.get("after") or 0)
        limit = int(req.params.get("limit") or 50)
    except ValueError:
        return error_response(400, "after and limit must be integers", "after" if "after" in req.params else "limit")
    try:
        return json_response(await run_messages.list_messages(client, req.route_params["run_id"], after, limit))
    except RunControlError as exc:
        return _failed(exc)


@bp.route(route="api/runs/{run_id}/abort", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def abort_turn(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Stop generating: end the chat turn in progress, its model step and tool calls; the chat goes on."""
    author = "someone"
    if req.get_body().strip():
        try:
            body = read_json_body(req)
        except RunRequestError as exc:
            return error_response(400, exc.message, exc.field)
        if not isinstance(body, dict) or set(body) - {"author"}:
            return error_response(400, "the body may only hold author", "author")
        author = body.get("author", author)
    try:
        return json_response(await run_messages.abort_turn(client, req.route_params["run_id"], author), 202)
    except RunControlError as exc:
        return _failed(exc)
