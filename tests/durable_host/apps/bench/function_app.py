# mypy: allow-untyped-decorators
"""Workloads for tests/bench/bench_durable_host.py (no-op activities, fan-out, long runs)."""

import os
import time
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

STAMPS = Path(os.environ.get("BENCH_STAMPS_DIR", "/tmp"))


@app.activity_trigger(input_name="value")
def noop(value: int) -> int:
    return value


@app.activity_trigger(input_name="step")
def stamp(step: dict[str, object]) -> float:
    """Record when step n ran, so the benchmark can compute per-step times."""
    now = time.time()
    with (STAMPS / f"stamps-{step['run']}").open("a") as handle:
        handle.write(f"{step['n']} {now}\n")
    return now


@app.orchestration_trigger(context_name="context")
def sequential(context: df.DurableOrchestrationContext):
    count = context.get_input()
    for n in range(count):
        yield context.call_activity("noop", n)
    return count


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    count = context.get_input()
    values = yield context.task_all([context.call_activity("noop", n) for n in range(count)])
    return len(values)


@app.orchestration_trigger(context_name="context")
def five(context: df.DurableOrchestrationContext):
    for n in range(5):
        yield context.call_activity("noop", n)
    return 5


@app.orchestration_trigger(context_name="context")
def long_run(context: df.DurableOrchestrationContext):
    """``steps`` stamped steps; with ``every`` set, continue_as_new after that many steps."""
    state = context.get_input()
    start = state.get("n", 0)
    every = state.get("every")
    stop = state["steps"] if not every else min(state["steps"], start + every)
    for n in range(start, stop):
        yield context.call_activity("stamp", {"run": state["run"], "n": n})
    if stop < state["steps"]:
        context.continue_as_new({**state, "n": stop})
        return None
    return stop


@app.orchestration_trigger(context_name="context")
def sequential_can(context: df.DurableOrchestrationContext):
    """``total`` no-op steps in one instance, continuing as new every ``every`` steps."""
    state = context.get_input()
    done, total, every = state.get("done", 0), state["total"], state["every"]
    stop = min(total, done + every)
    for n in range(done, stop):
        yield context.call_activity("noop", n)
    if stop < total:
        context.continue_as_new({**state, "done": stop})
        return None
    return stop
