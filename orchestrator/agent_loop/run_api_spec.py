"""The run API's OpenAPI document, built from the models the API reads and writes.

The app serves it at ``GET /api/openapi.json``; it is exported to ``specs/run_api.openapi.json``
with the repository's other generated files (``python -m tests.support.generated_files run_api``),
and a test fails when the export and this module disagree. Every status a route can answer is listed,
including the Functions host's own: 401 without the key, and a bare 404 for a path or method
no route takes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ag_ui.core import RunAgentInput
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import run_api_models as m
from .outside_events import OutsideEvent
from .run_request import RunRequest
from .schedules import ScheduleRequest

__all__ = ["SPEC_PATH", "render_spec", "run_api_spec"]

SPEC_PATH = Path(__file__).resolve().parents[2] / "specs" / "run_api.openapi.json"
_REF = "#/components/schemas/{model}"
_MODELS: tuple[type[BaseModel], ...] = (
    RunRequest,
    RunAgentInput,
    OutsideEvent,
    ScheduleRequest,
    m.AgentsView,
    m.EventAccepted,
    m.ScheduleView,
    m.ScheduleCreated,
    m.ScheduleControlAccepted,
    m.ScheduleDeleting,
    m.RunLinks,
    m.RunSummary,
    m.RunStatusView,
    m.TimelineView,
    m.ApprovalDecision,
    m.ApprovalAccepted,
    m.CancelAccepted,
    m.Reply,
    m.ReplyAccepted,
    m.MessageSend,
    m.MessageView,
    m.MessagesPage,
    m.AbortRequest,
    m.AbortAccepted,
    m.CallbackAccepted,
    m.CatalogView,
    m.CatalogToolView,
    m.ErrorBody,
)
_NOT_FOUND = (
    "No such run, tool or pending call (a JSON error body), or no route takes this path and method "
    "(the Functions host's answer, without a body)."
)
_ERRORS = {
    400: "The body or a parameter is invalid; the error names the field.",
    409: "The run has already finished, or cannot take this now.",
    410: "The run has already finished.",
    429: "The run has not taken its earlier messages yet; retry after the Retry-After seconds.",
    502: "A tool the request depends on did not take it.",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _responses(ok: int, model: type[BaseModel] | dict[str, Any], description: str, *errors: int) -> dict[str, Any]:
    schema = _ref(model) if isinstance(model, type) else model
    responses: dict[str, Any] = {str(ok): {"description": description, **_json_body(schema)}}
    for status in errors:
        responses[str(status)] = {"description": _ERRORS[status], **_json_body(_ref(m.ErrorBody))}
    responses["404"] = {"description": _NOT_FOUND}
    responses["401"] = {"description": "The function key is missing or wrong."}
    return responses


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1},
    }


_RUN_ID = _path_param("run_id", "The run's id (its orchestration instance id).")
_SCHEDULE_ID = _path_param("schedule_id", "The schedule's id.")
_CALL_ID = _path_param("call_id", "The id of the tool call the run waits on.")
_EVENT_ID_DIGITS = 19
"""The widest event id taken (ids run up to 2**62, checked by the route)."""
_RESUME = [
    {
        "name": "Last-Event-ID",
        "in": "header",
        "description": "Resume after this event (a reconnecting EventSource sends it); wins over after.",
        "schema": {"type": "string", "pattern": f"^[0-9]{{1,{_EVENT_ID_DIGITS}}}$"},
    },
    {
        "name": "after",
        "in": "query",
        "description": "Resume after this event id (0: from the start).",
        "schema": {"type": "integer", "minimum": 0, "maximum": 2**62, "default": 0},
    },
]


_SSE_EVENT = {
    "type": "object",
    "description": "One Server-Sent Event. Events of the run carry their id; notices (a CUSTOM event named "
    "toolmesh.*: events trimmed away, the channel unreachable) carry none. The stream also holds a retry "
    "field and keep-alive comments.",
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$", "description": "The event's per-run id."},
        "event": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
        "data": {
            "type": "string",
            "description": "The AG-UI event as JSON.",
            "contentMediaType": "application/json",
            "contentSchema": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}},
        },
    },
}


def _event_stream(description: str, *errors: int) -> dict[str, Any]:
    """Responses of a route that answers a run's events as Server-Sent Events."""
    responses = _responses(200, {}, description, *errors)
    responses["200"]["content"] = {"text/event-stream": {"schema": _SSE_EVENT}}
    responses["404"] = {"description": _NOT_FOUND + " Also when live events are off (TOOLMESH_EVENTS=off)."}
    return responses


def _paths() -> dict[str, Any]:
    return {
        "/api/runs": {
            "post": {
                "operationId": "startRun",
                "summary": "Start a run",
                "requestBody": {"required": True, **_json_body(_ref(RunRequest))},
                "responses": _responses(202, m.RunLinks, "The run started; follow status_url.", 400),
            },
            "get": {
                "operationId": "listRuns",
                "summary": "List runs, newest first",
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "description": "Comma-separated runtime statuses to keep.",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
                    },
                ],
                "responses": _responses(200, {"type": "array", "items": _ref(m.RunSummary)}, "The runs.", 400),
            },
        },
        "/api/runs/{run_id}": {
            "get": {
                "operationId": "getRun",
                "summary": "A run's status, live progress and, once finished, its report",
                "parameters": [_RUN_ID],
                "responses": _responses(200, m.RunStatusView, "The run."),
            }
        },
        "/api/runs/{run_id}/timeline": {
            "get": {
                "operationId": "getRunTimeline",
                "summary": "A run's model steps, tool calls and waits on one time axis, and its metrics",
                "parameters": [_RUN_ID],
                "responses": _responses(200, m.TimelineView, "The run's timeline."),
            }
        },
        "/api/runs/{run_id}/events": {
            "get": {
                "operationId": "followRunEvents",
                "summary": "A run's live events as AG-UI Server-Sent Events, resumable by event id",
                "description": "Replays the events kept after the id given, then follows the run until its "
                "closing event (RUN_FINISHED that is not an interrupt, or RUN_ERROR), and ends.",
                "parameters": [_RUN_ID, *_RESUME],
                "responses": _event_stream("The run's events.", 400),
            },
            "post": {
                "operationId": "runAgent",
                "summary": "Follow and steer a run as an AG-UI agent",
                "description": "An AG-UI RunAgentInput whose threadId is the run's id; its resume entries "
                "answer the run's interrupts (resolved approves unless the payload says approve: false, "
                "cancelled denies), then the run's events follow as for GET.",
                "parameters": [_RUN_ID, *_RESUME],
                "requestBody": {"required": True, **_json_body(_ref(RunAgentInput))},
                "responses": _event_stream("The run's events, after the answers were sent.", 400, 409),
            },
        },
        "/api/runs/{run_id}/approvals/{call_id}": {
            "post": {
                "operationId": "decideApproval",
                "summary": "Approve or deny a call the run waits on",
                "parameters": [_RUN_ID, _CALL_ID],
                "requestBody": {"required": True, **_json_body(_ref(m.ApprovalDecision))},
                "responses": _responses(202, m.ApprovalAccepted, "The decision was sent to the run.", 400, 409),
            }
        },
        "/api/runs/{run_id}/cancel": {
            "post": {
                "operationId": "cancelRun",
                "summary": "Stop a run promptly; its report says what was done",
                "parameters": [_RUN_ID],
                "responses": _responses(202, m.CancelAccepted, "The run is stopping.", 409),
            }
        },
        "/api/runs/{run_id}/messages": {
            "post": {
                "operationId": "sendMessage",
                "summary": "Send the run a message (a task, a change of plan, a question, an answer, or stop)",
                "parameters": [_RUN_ID],
                "requestBody": {"required": True, **_json_body(_ref(m.MessageSend))},
                "responses": _responses(
                    202, m.MessageView, "The message is stored; the run takes it at its next chance.", 400, 409, 429
                ),
            },
            "get": {
                "operationId": "listMessages",
                "summary": "The run's conversation, oldest first, a page at a time",
                "parameters": [
                    _RUN_ID,
                    {
                        "name": "after",
                        "in": "query",
                        "description": "Only messages after this sequence number (the last page's next_after).",
                        "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1, "default": 0},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "description": "At most this many messages.",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                    },
                ],
                "responses": _responses(200, m.MessagesPage, "A page of the conversation.", 400),
            },
        },
        "/api/runs/{run_id}/abort": {
            "post": {
                "operationId": "abortTurn",
                "summary": "Stop generating: end a chat run's turn in progress; the chat goes on",
                "parameters": [_RUN_ID],
                "requestBody": {"required": False, **_json_body(_ref(m.AbortRequest))},
                "responses": _responses(202, m.AbortAccepted, "The turn is stopping.", 400, 409),
            }
        },
        "/api/runs/{run_id}/replies/{call_id}": {
            "post": {
                "operationId": "replyToMessage",
                "summary": "Answer a message the run sent and waits on",
                "parameters": [_RUN_ID, _CALL_ID],
                "requestBody": {"required": True, **_json_body(_ref(m.Reply))},
                "responses": _responses(202, m.ReplyAccepted, "The mailbox took the reply.", 400, 409, 502),
            }
        },
        "/api/runs/{run_id}/callbacks/{call_id}": {
            "post": {
                "operationId": "toolCallback",
                "summary": "A tool reports back on an asynchronous operation",
                "description": "Anonymous: the signature in sig, made for this run and call, is the credential. "
                "Accepted once, while the call waits; a repeat or a call not waiting gets 409.",
                "security": [],
                "parameters": [
                    _RUN_ID,
                    _CALL_ID,
                    {"name": "sig", "in": "query", "required": True, "schema": {"type": "string"}},
                ],
                "requestBody": {"required": True, **_json_body({})},
                "responses": _responses(202, m.CallbackAccepted, "The run received the callback.", 400, 409, 410),
            }
        },
        "/api/tools": {
            "get": {
                "operationId": "listTools",
                "summary": "The converted tool catalog as the next run will see it",
                "responses": _responses(200, m.CatalogView, "The catalog."),
            }
        },
        "/api/tools/reload": {
            "post": {
                "operationId": "reloadTools",
                "summary": "Read the registry and convert every spec again now",
                "responses": _responses(200, m.CatalogView, "The catalog."),
            }
        },
        "/api/tools/{name}": {
            "get": {
                "operationId": "getTool",
                "summary": "One tool with its functions' parameter schemas",
                "parameters": [_path_param("name", "The tool's name in the registry.")],
                "responses": _responses(200, m.CatalogToolView, "The tool."),
            }
        },
        "/api/agents": {
            "get": {
                "operationId": "listAgents",
                "summary": "The agents and networks runs may name, and each invalid entry",
                "responses": _responses(200, m.AgentsView, "The agents file as the next run reads it."),
            }
        },
        "/api/events": {
            "post": {
                "operationId": "postEvent",
                "summary": "Deliver an outside event to every run waiting for it whose match holds",
                "requestBody": {"required": True, **_json_body(_ref(OutsideEvent))},
                "responses": _responses(202, m.EventAccepted, "Delivered, and kept for later waits.", 400),
            }
        },
        "/api/schedules": {
            "post": {
                "operationId": "createSchedule",
                "summary": "Start runs on a cron schedule",
                "requestBody": {"required": True, **_json_body(_ref(ScheduleRequest))},
                "responses": _responses(201, m.ScheduleCreated, "The schedule runs.", 400, 409),
            },
            "get": {
                "operationId": "listSchedules",
                "summary": "The schedules",
                "responses": _responses(200, {"type": "array", "items": _ref(m.ScheduleView)}, "The schedules."),
            },
        },
        "/api/schedules/{schedule_id}": {
            "get": {
                "operationId": "getSchedule",
                "summary": "One schedule: its next tick and the runs it started",
                "parameters": [_SCHEDULE_ID],
                "responses": _responses(200, m.ScheduleView, "The schedule."),
            },
            "delete": {
                "operationId": "deleteSchedule",
                "summary": "Stop and forget a schedule; runs it started go on",
                "parameters": [_SCHEDULE_ID],
                "responses": {
                    **_responses(202, m.ScheduleDeleting, "Still stopping; gone in a moment."),
                    "204": {"description": "The schedule is gone."},
                },
            },
        },
        "/api/schedules/{schedule_id}/pause": {
            "post": {
                "operationId": "pauseSchedule",
                "summary": "Start no runs until resumed",
                "parameters": [_SCHEDULE_ID],
                "responses": _responses(202, m.ScheduleControlAccepted, "The schedule is pausing."),
            }
        },
        "/api/schedules/{schedule_id}/resume": {
            "post": {
                "operationId": "resumeSchedule",
                "summary": "Start runs on schedule again",
                "parameters": [_SCHEDULE_ID],
                "responses": _responses(202, m.ScheduleControlAccepted, "The schedule is resuming."),
            }
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "getRunApiSpec",
                "summary": "This document",
                "responses": _responses(200, {"type": "object"}, "The OpenAPI document."),
            }
        },
    }


def run_api_spec() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the run API."""
    requests = (RunRequest, RunAgentInput, m.ApprovalDecision, m.Reply, OutsideEvent, ScheduleRequest)
    _, definitions = models_json_schema(
        [(model, "validation" if model in requests else "serialization") for model in _MODELS], ref_template=_REF
    )
    schemas = definitions.get("$defs", {})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "toolmesh run API",
            "version": "1.0.0",
            "description": "Start, follow, steer and cancel agent runs; read the tool catalog.",
        },
        "security": [{"functionKey": []}],
        "paths": _paths(),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
            },
        },
    }


def render_spec() -> str:
    """The document exactly as it is exported (stable key order, final newline)."""
    return json.dumps(run_api_spec(), indent=2, ensure_ascii=False) + "\n"
