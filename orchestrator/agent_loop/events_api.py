"""Outside events: ``POST /api/events`` delivers one to every run waiting for it; early ones are kept.

Delivery uses only the durable client, so it works the same on Azure and on the local host: the
running instances are listed, each one's progress names the waits it has open (event name and
the values its data must hold), and the event is raised on each instance whose wait matches,
under that wait's own event name. Every posted event is also kept for a while as a tiny
orchestration (``held_event``) whose input is the event; a run that starts waiting later asks
for kept events (the ``find_held_event`` activity) before it waits. A run remembers the ids of
the events it took, so the same event never answers two of its waits.

No event falls between the two paths: a POST keeps its event before it lists the waits, and
``find_held_event`` lists kept events only once the run's wait shows in its status. Either the
listing sees the wait (and raises the event on it) or the wait's look at kept events comes after
the event was kept. The second half needs the look to wait: on Azure Storage the activity's
message is sent before the run's status is written, so it can run while the wait is not yet
visible.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from pydantic import ValidationError

from .activity_contracts import HeldEventLookup
from .http_responses import error_response, json_response, read_json_body
from .instance_pages import all_instances
from .outside_events import (
    HELD_EVENT_ORCHESTRATOR,
    OutsideEvent,
    event_matches,
    held_event_prefix,
    wait_event_name,
)
from .run_request import RunRequestError
from .settings import get_settings

__all__ = ["bp", "deliver_event"]

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)
log = logging.getLogger("toolmesh.events")

ACTIVE = ["Running", "Pending"]
RAISE_ATTEMPTS = 3
RAISE_PAUSE_SECONDS = 0.2
VISIBLE_WAIT_SECONDS = 30.0
"""How long ``find_held_event`` waits for the run's wait to show before it looks anyway."""


def _open_waits(instance: dict[str, Any]) -> list[dict[str, Any]]:
    progress = instance.get("customStatus")
    if isinstance(progress, str):  # some backends hand custom status back as its JSON text
        try:
            progress = json.loads(progress)
        except ValueError:
            progress = None
    waiting = progress.get("waiting") if isinstance(progress, dict) else None
    return [w for w in waiting or [] if isinstance(w, dict) and w.get("kind") == "event"]


async def deliver_event(client: df.DurableOrchestrationClient, event: dict[str, Any]) -> list[dict[str, str]]:
    """Raise ``event`` on every open wait it matches; returns the (instance, wait) pairs it reached."""
    reached: list[dict[str, str]] = []
    for instance in await all_instances(client, runtime_status=ACTIVE):
        instance_id = instance.get("instanceId")
        if not instance_id:
            continue
        for wait in _open_waits(instance):
            if wait.get("event") == event["name"] and event_matches(wait.get("match") or {}, event["data"]):
                if await _raise_on_wait(client, instance_id, str(wait["wait_id"]), event):
                    reached.append({"run_id": instance_id, "wait_id": str(wait["wait_id"])})
    return reached


async def _raise_on_wait(client: df.DurableOrchestrationClient, instance_id: str, wait_id: str, event: Any) -> bool:
    """Raise the event on one listed wait; False when the run ended since the listing.

    A run that ended (its wait timed out) is skipped. Any other failure is retried, and then
    fails the POST: the sender must learn that a waiting run did not get its event.
    """
    for attempt in range(1, RAISE_ATTEMPTS + 1):
        try:
            await client.raise_event(instance_id, wait_event_name(wait_id), event)
            return True
        except Exception:
            status = await client.get_status(instance_id)
            if not status or not status.runtime_status or status.runtime_status.value not in ACTIVE:
                log.info("run %s ended before event %s reached it", instance_id, event["event_id"])
                return False
            if attempt == RAISE_ATTEMPTS:
                raise
            log.warning("raising event %s on run %s failed; trying again", event["event_id"], instance_id)
            await asyncio.sleep(RAISE_PAUSE_SECONDS * attempt)
    return False


@bp.route(route="api/events", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def post_event(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Deliver an outside event to the runs waiting for it, and keep it for runs that wait later."""
    try:
        body = OutsideEvent.model_validate(read_json_body(req))
    except RunRequestError as exc:
        return error_response(400, exc.message, exc.field)
    except ValidationError as exc:
        problem = RunRequestError.from_validation(exc)
        return error_response(400, problem.message, problem.field)
    received = datetime.now(UTC)
    keep = body.keep_seconds if body.keep_seconds is not None else get_settings().event_keep_seconds
    event: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "name": body.name,
        "data": body.data,
        "received_at": received.isoformat(),
        "keep_until": (received + timedelta(seconds=keep)).isoformat(),
    }
    if len(json.dumps(event)) > 64 * 1024:
        return error_response(400, "data: an event is at most 64 KB of JSON", "data")
    if keep > 0:
        # Kept first, then delivered: a run that starts waiting in between finds it either way.
        await client.start_new(HELD_EVENT_ORCHESTRATOR, held_event_prefix(body.name) + event["event_id"], event)
    reached = await deliver_event(client, event)
    return json_response(
        {"event_id": event["event_id"], "delivered_to": reached, "kept_until": event["keep_until"] if keep else None},
        202,
    )


@bp.orchestration_trigger(context_name="context")
def held_event(context: df.DurableOrchestrationContext) -> Any:
    """An event kept for waits that start later: it lives until its keep time, then ends."""
    event = context.get_input() or {}
    until = datetime.fromisoformat(str(event.get("keep_until")))
    if until > context.current_utc_datetime:
        yield context.create_timer(until)
    return {"event_id": event.get("event_id"), "expired": True}


async def wait_shown(client: df.DurableOrchestrationClient, instance_id: str, wait_id: str) -> bool:
    """Wait (bounded) until the instance's status lists the wait, as ``POST /api/events`` reads it."""
    deadline = time.monotonic() + VISIBLE_WAIT_SECONDS
    pause = 0.02
    while True:
        status = await client.get_status(instance_id)
        waits = _open_waits({"customStatus": status.custom_status}) if status else []
        if any(str(w.get("wait_id")) == wait_id for w in waits):
            return True
        if time.monotonic() >= deadline:
            log.warning("wait %s of run %s never showed; looking for kept events anyway", wait_id, instance_id)
            return False
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.5)


@bp.activity_trigger(input_name="payload")
@bp.durable_client_input(client_name="client")
async def find_held_event(payload: dict[str, Any], client: df.DurableOrchestrationClient) -> dict[str, Any] | None:
    """The oldest kept event with this name that matches and the run has not taken yet, or None."""
    lookup = HeldEventLookup.parse(payload)
    if lookup.instance_id and lookup.wait_id:
        await wait_shown(client, lookup.instance_id, lookup.wait_id)
    seen = set(lookup.seen)
    now = datetime.now(UTC)
    candidates = await all_instances(
        client, runtime_status=ACTIVE, prefix=held_event_prefix(lookup.name), show_input=True
    )
    candidates.sort(key=lambda c: str(c.get("createdTime") or ""))
    for candidate in candidates:
        instance_id = str(candidate.get("instanceId") or "")
        if not instance_id or instance_id.rsplit("-", 1)[-1] in seen:
            continue
        event = candidate.get("input")
        if isinstance(event, str):
            event = json.loads(event)
        if not isinstance(event, dict) or event.get("name") != lookup.name:
            continue
        if datetime.fromisoformat(str(event.get("keep_until"))) <= now:
            continue
        if event_matches(lookup.match, event.get("data")):
            return event
    return None
