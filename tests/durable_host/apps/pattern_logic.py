"""The documented Durable Functions patterns, written once for the two apps that run them.

``patterns/`` declares these functions in the v2 programming model (decorators on a function
app), ``patterns_v1/`` in the v1 model (a ``function.json`` folder each); the tests run the same
scenarios against both and expect the outputs and statuses the Durable Functions documentation
gives for each pattern.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func

CITIES = ("Tokyo", "Seattle", "London")

Orchestration = Generator[Any, Any, Any]


class HostCrash(BaseException):
    """Escapes the SDK's own error handling, so the host cannot finish the episode."""


# ---- activities ------------------------------------------------------------------------------


def say_hello(name: str) -> str:
    return f"Hello {name}!"


def double(value: int) -> int:
    return value * 2


def check_job(check: dict[str, int]) -> str:
    """A job that is ready from its ``ready_after``-th check on."""
    return "Completed" if check["attempt"] >= check["ready_after"] else "Running"


def request_approval(request: dict[str, Any]) -> str:
    return f"approval requested for {request['item']}"


# ---- orchestrators ---------------------------------------------------------------------------


def chaining(context: df.DurableOrchestrationContext) -> Orchestration:
    results = []
    for city in CITIES:
        results.append((yield context.call_activity("say_hello", city)))
    return results


def fan_out_fan_in(context: df.DurableOrchestrationContext) -> Orchestration:
    count = int(context.get_input())
    values = yield context.task_all([context.call_activity("double", i) for i in range(count)])
    return sum(values)


def approval(context: df.DurableOrchestrationContext) -> Orchestration:
    """Human interaction: ask, then wait for the decision or escalate when the deadline passes."""
    request = context.get_input()
    yield context.call_activity("request_approval", request)
    deadline = context.current_utc_datetime + timedelta(seconds=request["timeout_seconds"])
    timer = context.create_timer(deadline)
    decision = context.wait_for_external_event("ApprovalEvent")
    winner = yield context.task_any([decision, timer])
    if winner == decision:
        timer.cancel()
        return {"approved": decision.result}
    return "escalated"


def monitor(context: df.DurableOrchestrationContext) -> Orchestration:
    """Poll a job on a durable timer until it is done or the monitor expires."""
    job = context.get_input()
    expiry = context.current_utc_datetime + timedelta(seconds=job["expiry_seconds"])
    attempt = 0
    while context.current_utc_datetime < expiry:
        attempt += 1
        state = yield context.call_activity("check_job", {"attempt": attempt, "ready_after": job["ready_after"]})
        if state == "Completed":
            return {"job": job["id"], "checks": attempt}
        context.set_custom_status({"checks": attempt})
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=job["interval_seconds"]))
    return {"job": job["id"], "checks": attempt, "expired": True}


def sub_orchestrations(context: df.DurableOrchestrationContext) -> Orchestration:
    chain = yield context.call_sub_orchestrator("chaining", None, f"{context.instance_id}-chain")
    totals = yield context.task_all([context.call_sub_orchestrator("fan_out_fan_in", n) for n in (2, 3)])
    return {"chain": chain, "totals": totals}


def eternal(context: df.DurableOrchestrationContext) -> Orchestration:
    """An eternal orchestration: each round continues as new with a fresh history."""
    state = context.get_input() or {"round": 0}
    doubled = yield context.call_activity("double", state["round"])
    if state["round"] >= 3:
        return {"rounds": state["round"], "last": doubled}
    yield context.create_timer(context.current_utc_datetime + timedelta(milliseconds=50))
    context.continue_as_new({"round": state["round"] + 1})
    return None


def wait_for_go(context: df.DurableOrchestrationContext) -> Orchestration:
    value = yield context.wait_for_external_event("Go")
    return value


def crash(context: df.DurableOrchestrationContext) -> Orchestration:
    yield context.call_activity("double", 1)
    raise HostCrash("the orchestrator crashed past the SDK")


# ---- HTTP functions (durable client) -------------------------------------------------------


async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    payload = json.loads(body) if body else None
    instance_id = await client.start_new(req.route_params["functionName"], req.route_params.get("instanceId"), payload)
    response: func.HttpResponse = client.create_check_status_response(req, instance_id)
    return response


async def manage(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Suspend, resume, terminate, purge or read an instance through the SDK's client."""
    instance_id = req.route_params["instanceId"]
    operation = req.route_params["operation"]
    reason = req.params.get("reason")
    result: Any = "ok"
    if operation == "suspend":
        await client.suspend(instance_id, reason)
    elif operation == "resume":
        await client.resume(instance_id, reason)
    elif operation == "terminate":
        await client.terminate(instance_id, reason)
    elif operation == "purge":
        result = (await client.purge_instance_history(instance_id)).instances_deleted
    elif operation == "raise":
        await client.raise_event(instance_id, req.params["event"], req.get_json())
    elif operation == "status":
        status = await client.get_status(instance_id)
        known = status is not None and status.runtime_status is not None
        result = {"runtimeStatus": status.runtime_status.value, "output": status.output} if known else None
    else:
        return func.HttpResponse(f"unknown operation {operation}", status_code=400)
    return func.HttpResponse(json.dumps(result), mimetype="application/json")
