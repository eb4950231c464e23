# mypy: allow-untyped-decorators
"""A function app exercising every durable feature the local host supports (test fixture)."""

import asyncio
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

MARKS = Path(os.environ.get("CONFORMANCE_MARKS_DIR", "/tmp"))

if os.environ.get("BASIC_APP_BROKEN_IN_WORKERS") and sys.argv[0].endswith("workers.py"):
    raise RuntimeError("this app cannot be imported by an activity worker (a test of that failure)")


@app.route(route="orchestrators/{functionName}/{instanceId?}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    payload = json.loads(body) if body else None
    instance_id = await client.start_new(req.route_params["functionName"], req.route_params.get("instanceId"), payload)
    response: func.HttpResponse = client.create_check_status_response(req, instance_id)
    return response


@app.route(route="wait/{functionName}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@app.durable_client_input(client_name="client")
async def http_start_wait(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new(req.route_params["functionName"], None, req.get_json())
    response: func.HttpResponse = await client.wait_for_completion_or_create_check_status_response(
        req, instance_id, 20000, 100
    )
    return response


@app.route(route="client/{instanceId}/{op}", methods=["POST", "GET"], auth_level=func.AuthLevel.ANONYMOUS)
@app.durable_client_input(client_name="client")
async def client_ops(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Drive the unmodified DurableOrchestrationClient from a test."""
    instance_id = req.route_params["instanceId"]
    op = req.route_params["op"]
    result: object
    if op == "status":
        status = await client.get_status(instance_id, show_history=True, show_history_output=True)
        result = status.to_json() if status else None
    elif op == "raise":
        data = req.get_json()
        await client.raise_event(instance_id, data["name"], data.get("data"))
        result = "ok"
    elif op == "terminate":
        await client.terminate(instance_id, "stop please")
        result = "ok"
    elif op == "suspend":
        await client.suspend(instance_id, "pause")
        result = "ok"
    elif op == "resume":
        await client.resume(instance_id, "go")
        result = "ok"
    elif op == "purge":
        purged = await client.purge_instance_history(instance_id)
        result = purged.instances_deleted
    elif op == "all":
        result = [s.instance_id for s in await client.get_status_all()]
    elif op == "start":
        data = req.get_json()
        try:
            result = {"id": await client.start_new(data["name"], data.get("id"), data.get("input"))}
        except Exception as exc:
            result = {"error": str(exc)}
    elif op == "by":
        statuses = [df.OrchestrationRuntimeStatus.Completed]
        found = await client.get_status_by(runtime_status=statuses)
        result = [s.instance_id for s in found]
    else:
        return func.HttpResponse("unknown op", status_code=400)
    return func.HttpResponse(json.dumps(result, default=str), mimetype="application/json")


@app.route(route="items/{id:int}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def item(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps({"id": int(req.route_params["id"]), "q": req.params.get("q"), "url": req.url}),
        mimetype="application/json",
    )


@app.route(route="files/{*rest}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def files(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.route_params.get("rest", ""))


@app.route(route="boom", auth_level=func.AuthLevel.ANONYMOUS)
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("secret detail that must not leak")


# ---- activities -------------------------------------------------------------------------


@app.activity_trigger(input_name="city")
def hello(city: str) -> str:
    return f"Hello {city}"


@app.activity_trigger(input_name="value")
async def double_async(value: int) -> int:
    await asyncio.sleep(0.01)
    return value * 2


@app.activity_trigger(input_name="message")
def fail(message: str) -> str:
    raise ValueError(message)


@app.activity_trigger(input_name="key")
def flaky(key: str) -> str:
    """Fails on the first two calls for a key, then succeeds (counts calls in a marks file)."""
    path = MARKS / f"flaky-{key}"
    count = int(path.read_text()) if path.exists() else 0
    path.write_text(str(count + 1))
    if count < 2:
        raise RuntimeError(f"attempt {count + 1} failed")
    return f"ok after {count + 1}"


@app.activity_trigger(input_name="payload")
def record(payload: dict[str, object]) -> dict[str, object]:
    """Append a line to a marks file (lets tests count executions), return the payload."""
    with (MARKS / f"record-{payload['run']}").open("a") as handle:
        handle.write(json.dumps(payload) + "\n")
    return payload


@app.activity_trigger(input_name="seconds")
def sleep_for(seconds: float) -> float:
    """Sleep; the marks file ``sleeping`` gets the process id first, so a test can wait for it."""
    import time

    with (MARKS / "sleeping").open("a") as handle:
        handle.write(f"{os.getpid()}\n")
    time.sleep(seconds)
    return seconds


@app.activity_trigger(input_name="value")
def noop(value: int) -> int:
    return value


GENERATOR_STARTS: dict[str, int] = {}
"""How often each instance's orchestrator body began in this host process: once per full replay."""


@app.activity_trigger(input_name="value")
def process_id(value: None) -> int:
    """The process the activity ran in (the host's own, or one of its activity workers)."""
    return os.getpid()


# ---- orchestrators ----------------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def hello_sequence(context: df.DurableOrchestrationContext):
    results = []
    for city in ["Tokyo", "Seattle", "London"]:
        results.append((yield context.call_activity("hello", city)))
    return results


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    count = context.get_input() or 5
    tasks = [context.call_activity("double_async", n) for n in range(count)]
    values = yield context.task_all(tasks)
    return sum(values)


@app.orchestration_trigger(context_name="context")
def echo_input(context: df.DurableOrchestrationContext):
    return {"input": context.get_input(), "id": context.instance_id}


@app.orchestration_trigger(context_name="context")
def timer_then_done(context: df.DurableOrchestrationContext):
    seconds = context.get_input() or 1
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=seconds))
    return "done"


@app.orchestration_trigger(context_name="context")
def wait_event(context: df.DurableOrchestrationContext):
    context.set_custom_status("waiting")
    value = yield context.wait_for_external_event("Approval")
    context.set_custom_status("approved")
    return {"got": value}


@app.orchestration_trigger(context_name="context")
def approval_race(context: df.DurableOrchestrationContext):
    seconds = context.get_input() or 30
    timer = context.create_timer(context.current_utc_datetime + timedelta(seconds=seconds))
    event = context.wait_for_external_event("Approval")
    winner = yield context.task_any([event, timer])
    if winner == event:
        timer.cancel()
        return {"approved": event.result}
    return "timeout"


@app.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext):
    state = context.get_input() or {"n": 0, "limit": 3}
    yield context.call_activity("noop", state["n"])
    if state["n"] < state["limit"]:
        context.continue_as_new({"n": state["n"] + 1, "limit": state["limit"]})
        return None
    return state["n"]


@app.orchestration_trigger(context_name="context")
def catch_failure(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("fail", "boom")
    except Exception as exc:
        return f"caught: {exc}"
    return "not reached"


@app.orchestration_trigger(context_name="context")
def uncaught_failure(context: df.DurableOrchestrationContext):
    yield context.call_activity("fail", "kaput")
    return "not reached"


@app.orchestration_trigger(context_name="context")
def orchestrator_raises(context: df.DurableOrchestrationContext):
    yield context.call_activity("hello", "x")
    raise ValueError("orchestrator says no")


@app.orchestration_trigger(context_name="context")
def retry_then_succeed(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=100, max_number_of_attempts=3)
    return (yield context.call_activity_with_retry("flaky", options, context.instance_id))


@app.orchestration_trigger(context_name="context")
def retry_exhausted(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=50, max_number_of_attempts=2)
    try:
        yield context.call_activity_with_retry("fail", options, "always")
    except Exception as exc:
        return f"gave up: {str(exc).splitlines()[0]}"
    return "not reached"


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    first = yield context.call_sub_orchestrator("hello_sequence", None, f"{context.instance_id}-child")
    second = yield context.call_sub_orchestrator("fan_out", 3)
    try:
        yield context.call_sub_orchestrator("uncaught_failure")
    except Exception as exc:
        failure = str(exc).splitlines()[0]
    return {"first": first, "second": second, "failure": failure}


@app.orchestration_trigger(context_name="context")
def custom_status_steps(context: df.DurableOrchestrationContext):
    for step in range(3):
        context.set_custom_status({"step": step})
        yield context.call_activity("noop", step)
    return "finished"


@app.orchestration_trigger(context_name="context")
def sequence_n(context: df.DurableOrchestrationContext):
    count = context.get_input()
    for n in range(count):
        yield context.call_activity("noop", n)
    return count


@app.orchestration_trigger(context_name="context")
def mixed(context: df.DurableOrchestrationContext):
    """The crash-test workload: activities, fan-out, a timer, an event, continue_as_new."""
    state = context.get_input()
    run = state["run"]
    generation = state.get("generation", 0)
    yield context.call_activity("record", {"run": run, "step": f"g{generation}-a"})
    values = yield context.task_all([context.call_activity("double_async", n) for n in range(5)])
    yield context.create_timer(context.current_utc_datetime + timedelta(milliseconds=300))
    if generation == 0:
        approval = yield context.wait_for_external_event("Go")
        state["approval"] = approval
    if generation < 2:
        state["generation"] = generation + 1
        state.setdefault("sums", []).append(sum(values))
        context.continue_as_new(state)
        return None
    yield context.call_activity("record", {"run": run, "step": "final"})
    return {"sums": state.get("sums", []) + [sum(values)], "approval": state.get("approval")}


@app.orchestration_trigger(context_name="context")
def counted_steps(context: df.DurableOrchestrationContext):
    """Counts the episodes that rebuilt it from the history (a test of sessions, not a pattern)."""
    GENERATOR_STARTS[context.instance_id] = GENERATOR_STARTS.get(context.instance_id, 0) + 1
    plan = context.get_input()
    total = 0
    for n in range(plan["steps"]):
        total += yield context.call_activity("noop", n)
    if plan.get("wait"):
        total += yield context.wait_for_external_event("Go")
    # Read here, not in an activity: activities may run in another process than orchestrators.
    return {"total": total, "starts": GENERATOR_STARTS[context.instance_id]}


@app.orchestration_trigger(context_name="context")
def worker_lost(context: df.DurableOrchestrationContext):
    """Where activities ran before and after a long one, and how the long one ended."""
    first = yield context.call_activity("process_id", None)
    try:
        outcome = f"slept {(yield context.call_activity('sleep_for', context.get_input()))}"
    except Exception as exc:
        outcome = str(exc)
    second = yield context.call_activity("process_id", None)
    return {"first": first, "outcome": outcome, "second": second}


@app.orchestration_trigger(context_name="context")
def echo_through_activity(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("noop", context.get_input()))


@app.orchestration_trigger(context_name="context")
def slow(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("sleep_for", context.get_input()))


@app.orchestration_trigger(context_name="context")
def http_call(context: df.DurableOrchestrationContext):
    response = yield context.call_http("GET", context.get_input())
    return {"status": response["statusCode"], "body": json.loads(response["content"])}
