"""Schedules: runs started on a cron schedule by an eternal orchestration, not an in-process timer.

One orchestration per schedule (``schedule-<id>``) sleeps on a durable timer until the next tick,
starts that tick's run and continues as new; it survives restarts and runs the same on Azure.
The run of a tick has a deterministic id (``schedule-<id>-<tick as YYYYMMDDTHHMMSSZ>``) and the
starting activity does nothing when that run exists, so a crash between starting a run and
recording it never starts a second one.

Missed ticks: when the host was down across several ticks, the timer fires once when it is back;
that one (the earliest missed tick) starts its run late and the others are skipped and counted
(``missed``). Pause and resume are events on the schedule; a paused schedule waits for resume
and starts nothing. Cron expressions have five fields, or six with seconds last (croniter).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Generator
from datetime import datetime
from typing import Annotated, Any

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus
from croniter import croniter
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, field_validator

from .activity_contracts import ActivityInput
from .agents_api import agent_problem
from .http_responses import error_response, json_response, read_json_body
from .instance_pages import all_instances
from .orchestration import ORCHESTRATOR_NAME
from .run_request import RunRequestError, parse_run_request

__all__ = ["SCHEDULE_ORCHESTRATOR", "bp", "schedule_instance_id", "tick_run_id"]

SCHEDULE_ORCHESTRATOR = "schedule"
CONTROL_EVENT = "schedule-control"
PREFIX = "schedule-"
MAX_COUNTED_MISSES = 1000
LIVE = ("Running", "Pending", "ContinuedAsNew")
"""A schedule between two executions (continued as new, the next not started yet) is still live."""
DELETE_WAIT_POLLS = 100
DELETE_WAIT_POLL_SECONDS = 0.1
SHOWN = ("cron", "paused", "next_tick", "last_tick", "last_run_id", "runs_started", "missed")

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


def schedule_instance_id(schedule_id: str) -> str:
    return f"{PREFIX}{schedule_id}"


def tick_run_id(schedule_id: str, tick: datetime) -> str:
    return f"{PREFIX}{schedule_id}-{tick.strftime('%Y%m%dT%H%M%SZ')}"


class ScheduleRequest(BaseModel):
    """The body of ``POST /api/schedules``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_]{0,47}$")] | None = None
    """A name for the schedule (lower case, digits, underscores); generated when absent."""
    cron: Annotated[str, StringConstraints(strip_whitespace=True, min_length=9, max_length=200)]
    run: dict[str, Any]
    """The body of a POST /api/runs, validated the same way."""
    paused: bool = False

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if len(value.split()) not in (5, 6) or not croniter.is_valid(value):
            raise ValueError("not a cron expression of five fields (or six, seconds last)")
        return value


# -- the eternal orchestration ------------------------------------------------------------


class ScheduleState(BaseModel):
    """What each execution of a schedule carries to the next (its input, in history)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    cron: str
    run: dict[str, Any]
    """The run request each tick starts, as validated when the schedule was created."""
    objective: str
    paused: bool = False
    last_tick: str | None = None
    last_run_id: str | None = None
    runs_started: int = 0
    missed: int = 0
    """Ticks that passed while a run was being started or the host was down: they start no run."""


class ScheduledRun(ActivityInput):
    """The input of ``start_scheduled_run``: the tick's run id and its request."""

    run_id: str
    run: dict[str, Any]


class ScheduledRunStarted(BaseModel):
    run_id: str
    already_started: bool


def _next_tick(cron: str, after: datetime) -> datetime:
    tick: datetime = croniter(cron, after).get_next(datetime)
    return tick


def _apply(state: ScheduleState, command: Any) -> None:
    if isinstance(command, str):
        command = json.loads(command)
    action = command.get("action") if isinstance(command, dict) else None
    if action in ("pause", "resume"):
        state.paused = action == "pause"


def _show(context: df.DurableOrchestrationContext, state: ScheduleState, tick: datetime | None) -> None:
    shown = state.model_dump(mode="json", exclude={"run"})
    context.set_custom_status({**shown, "next_tick": tick.isoformat() if tick else None})


START_RETRY_MS = 2000
START_ATTEMPTS = 15
"""A tick's run start is tried for about half a minute before the schedule gives up."""


@bp.orchestration_trigger(context_name="context")
def schedule(context: df.DurableOrchestrationContext) -> Generator[Any, Any, None]:
    """One schedule: wait for the next tick (or a pause/resume), start its run, continue as new."""
    state = ScheduleState.model_validate(context.get_input() or {})
    control = context.wait_for_external_event(CONTROL_EVENT)
    if state.paused:
        _show(context, state, None)
        command = yield control
        _apply(state, command)
        context.continue_as_new(state.model_dump(mode="json"))
        return None
    now = context.current_utc_datetime
    last = datetime.fromisoformat(state.last_tick) if state.last_tick else None
    tick = _next_tick(state.cron, max(now, last) if last else now)
    _show(context, state, tick)
    timer = context.create_timer(tick)
    winner = yield context.task_any([timer, control])
    if winner is control:
        timer.cancel()
        _apply(state, control.result)
        context.continue_as_new(state.model_dump(mode="json"))
        return None
    run_id = tick_run_id(state.id, tick)
    # Retried: a failed start (the host's own API not listening yet after a restart) must not end the
    # schedule for good; the activity is idempotent, so a retry never starts the tick's run twice.
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=START_RETRY_MS, max_number_of_attempts=START_ATTEMPTS)
    payload = ScheduledRun(run_id=run_id, run=state.run).payload()
    yield context.call_activity_with_retry(start_scheduled_run, retry, payload)
    state.last_tick, state.last_run_id, state.runs_started = tick.isoformat(), run_id, state.runs_started + 1
    following, skipped = _next_tick(state.cron, tick), 0
    while following <= context.current_utc_datetime and skipped < MAX_COUNTED_MISSES:
        skipped += 1
        following = _next_tick(state.cron, following)
    state.missed += skipped
    if control.is_completed:  # a pause that came while the run was being started
        _apply(state, control.result)
    context.continue_as_new(state.model_dump(mode="json"))
    return None


@bp.activity_trigger(input_name="payload")
@bp.durable_client_input(client_name="client")
async def start_scheduled_run(payload: dict[str, Any], client: df.DurableOrchestrationClient) -> dict[str, Any]:
    """Start a tick's run under its own id, unless an earlier attempt already did."""
    request = ScheduledRun.parse(payload)
    existing = await client.get_status(request.run_id)
    if existing is not None and existing.instance_id:
        return ScheduledRunStarted(run_id=request.run_id, already_started=True).model_dump(mode="json")
    await client.start_new(ORCHESTRATOR_NAME, request.run_id, request.run)
    return ScheduledRunStarted(run_id=request.run_id, already_started=False).model_dump(mode="json")


# -- the API ----------------------------------------------------------------------------


def _view(status: df.models.DurableOrchestrationStatus) -> dict[str, Any]:
    shown = status.custom_status if isinstance(status.custom_status, dict) else {}
    schedule_id = (status.instance_id or "")[len(PREFIX) :]
    return {
        "id": schedule_id,
        "status": status.runtime_status.value if status.runtime_status else None,
        "created": status.created_time.isoformat() if status.created_time else None,
        **{k: shown.get(k) for k in SHOWN},
        "objective": shown.get("objective"),
    }


async def _find(client: df.DurableOrchestrationClient, schedule_id: str) -> df.models.DurableOrchestrationStatus | None:
    status = await client.get_status(schedule_instance_id(schedule_id))
    if not status or not status.instance_id or status.name != SCHEDULE_ORCHESTRATOR:
        return None
    if not status.runtime_status or status.runtime_status.value not in LIVE:
        return None
    return status


@bp.route(route="api/schedules", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def create_schedule(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Create a schedule: 201 with its id; a bad cron or run body → 400 naming the field."""
    try:
        body = ScheduleRequest.model_validate(read_json_body(req))
        run = parse_run_request(body.run)
    except RunRequestError as exc:
        field = f"run.{exc.field}" if exc.field and not exc.message.startswith("the request body") else exc.field
        return error_response(400, exc.message, field)
    except ValidationError as exc:
        invalid = RunRequestError.from_validation(exc)
        return error_response(400, invalid.message, invalid.field)
    problem = agent_problem(run)
    if problem is not None:
        return error_response(400, problem[1], f"run.{problem[0]}")
    schedule_id = body.id or uuid.uuid4().hex[:12]
    if await _find(client, schedule_id) is not None:
        return error_response(409, f"a schedule with id {schedule_id!r} exists; delete it first")
    state = ScheduleState(
        id=schedule_id,
        cron=body.cron,
        run=run.model_dump(mode="json"),
        objective=run.objective[:200],
        paused=body.paused,
    )
    await client.start_new(SCHEDULE_ORCHESTRATOR, schedule_instance_id(schedule_id), state.model_dump(mode="json"))
    return json_response({"id": schedule_id, "cron": body.cron, "paused": body.paused}, 201)


@bp.route(route="api/schedules", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def list_schedules(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    # Every page: the client's get_status_by reads the first one only.
    found = await all_instances(client, runtime_status=list(LIVE), prefix=PREFIX)
    statuses = map(DurableOrchestrationStatus.from_json, found)
    return json_response([_view(s) for s in statuses if s.name == SCHEDULE_ORCHESTRATOR])


@bp.route(route="api/schedules/{schedule_id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def get_schedule(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    schedule_id = req.route_params["schedule_id"]
    status = await _find(client, schedule_id)
    if status is None:
        return error_response(404, f"no schedule with id {schedule_id!r}")
    return json_response(_view(status))


async def _control(client: df.DurableOrchestrationClient, schedule_id: str, action: str) -> func.HttpResponse:
    if await _find(client, schedule_id) is None:
        return error_response(404, f"no schedule with id {schedule_id!r}")
    await client.raise_event(schedule_instance_id(schedule_id), CONTROL_EVENT, {"action": action})
    return json_response({"id": schedule_id, "action": action}, 202)


@bp.route(route="api/schedules/{schedule_id}/pause", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def pause_schedule(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Pause a schedule: no run starts until it is resumed."""
    return await _control(client, req.route_params["schedule_id"], "pause")


@bp.route(route="api/schedules/{schedule_id}/resume", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def resume_schedule(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await _control(client, req.route_params["schedule_id"], "resume")


@bp.route(route="api/schedules/{schedule_id}", methods=["DELETE"])
@bp.durable_client_input(client_name="client")
async def delete_schedule(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Stop and forget a schedule (204), or 202 while its termination is still queued; runs it started go on."""
    schedule_id = req.route_params["schedule_id"]
    if await _find(client, schedule_id) is None:
        return error_response(404, f"no schedule with id {schedule_id!r}")
    instance_id = schedule_instance_id(schedule_id)
    await client.terminate(instance_id, "schedule deleted")
    for _ in range(DELETE_WAIT_POLLS):  # termination is queued: wait briefly so the answer can say "gone"
        if await _find(client, schedule_id) is None:
            await client.purge_instance_history(instance_id)
            return func.HttpResponse(status_code=204)
        await asyncio.sleep(DELETE_WAIT_POLL_SECONDS)
    return json_response({"id": schedule_id, "status": "deleting"}, 202)
