"""Starting, reading and steering runs: what the HTTP API and the MCP endpoint both offer.

Each function takes the durable client and plain values, and raises RunControlError with the
HTTP status that fits (400 bad input, 404 unknown, 409 too late), so each front end only says
it in its own way.
"""

from __future__ import annotations

import json
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from .agents_api import agent_problem
from .errors import failure_message
from .instance_pages import all_instances
from .live_events import now_ms, publish
from .live_progress import decision_events
from .orchestration import CANCEL_EVENT, ORCHESTRATOR_NAME, approval_event
from .run_request import RunRequestError, parse_run_request
from .run_trace import trace_id_hex
from .sub_runs import raise_if_running, sub_run_ids, sub_run_waiting_for, with_sub_run_progress

__all__ = [
    "FINISHED",
    "RunControlError",
    "cancel_run",
    "decide_approval",
    "event_stream_of",
    "find_run",
    "list_runs",
    "pending_entry",
    "run_timeline",
    "run_view",
    "start_run",
    "status_view",
]

FINISHED = {"Completed", "Failed", "Terminated", "Canceled"}
KNOWN_STATUSES = frozenset(s.value for s in df.OrchestrationRuntimeStatus)
MAX_COMMENT_CHARS = 2000
MAX_ANSWER_CHARS = 20_000


class RunControlError(Exception):
    """A request that cannot be done: the HTTP status that says why, the message, the bad field."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def _run_input(status: df.models.DurableOrchestrationStatus) -> dict[str, Any]:
    """The run's input: its request, or (after a continue-as-new) the state it carried."""
    payload = status.input_
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            payload = {}
    return payload if isinstance(payload, dict) else {}


def event_stream_of(status: df.models.DurableOrchestrationStatus) -> str:
    """The event stream an instance publishes to: its own, or for a network's sub-run its run's."""
    stream = _run_input(status).get("stream")
    return stream if isinstance(stream, str) and stream else str(status.instance_id)


def _cost(progress: dict[str, Any], output: Any) -> float:
    """The run's cost so far: the report's once finished, else the live progress's."""
    source: dict[str, Any] = output if isinstance(output, dict) else progress
    usage = source.get("usage")
    return round(float(usage.get("cost_usd") or 0.0), 6) if isinstance(usage, dict) else 0.0


def status_view(status: df.models.DurableOrchestrationStatus) -> dict[str, Any]:
    """A run as callers see it: status, objective, times, live progress and, once finished, its report."""
    payload = _run_input(status)
    request = payload.get("state", {}).get("request", payload)
    progress = status.custom_status if isinstance(status.custom_status, dict) else {}
    objective = request.get("objective") if isinstance(request, dict) else None
    output = status.output if status.runtime_status and status.runtime_status.value in FINISHED else None
    if isinstance(output, str) and status.runtime_status is df.OrchestrationRuntimeStatus.Failed:
        output = failure_message(output)  # the message, not the traceback the host may add
    return {
        "id": status.instance_id,
        "status": status.runtime_status.value if status.runtime_status else None,
        "objective": objective or progress.get("objective"),
        "created": status.created_time.isoformat() if status.created_time else None,
        "updated": status.last_updated_time.isoformat() if status.last_updated_time else None,
        "progress": status.custom_status,
        "output": output,
        "trace_id": trace_id_hex(status.instance_id),
        "cost_usd": _cost(progress, output),
    }


def _possible_id(run_id: str) -> bool:
    """Whether ``run_id`` can name an instance at all: Durable ids hold no ``/ \\ # ?`` and no control
    characters, and the client puts the id into a URL as it is (a ``#`` there would ask for the list,
    and the host would decode a ``%`` once more: ``%41`` would name instance ``A``)."""
    return bool(run_id) and not any(c in "/\\#?%" or not c.isprintable() for c in run_id)


async def find_run(
    client: df.DurableOrchestrationClient, run_id: str, names: tuple[str, ...] = (ORCHESTRATOR_NAME,)
) -> df.models.DurableOrchestrationStatus | None:
    """The run's status, or None when there is no agent run (of one of ``names``) with that id."""
    if not _possible_id(run_id):
        return None
    status = await client.get_status(run_id, show_input=True)
    if not status or not status.instance_id or status.name not in names:
        return None
    return status


async def _existing(client: df.DurableOrchestrationClient, run_id: str) -> df.models.DurableOrchestrationStatus:
    status = await find_run(client, run_id)
    if status is None:
        raise RunControlError(404, f"no run with id {run_id!r}")
    return status


def pending_entry(status: df.models.DurableOrchestrationStatus, key: str, call_id: str) -> dict[str, Any] | None:
    """The run's waiting entry (``approvals`` or ``waiting``) for ``call_id``, if it has one."""
    progress = status.custom_status if isinstance(status.custom_status, dict) else {}
    for entry in progress.get(key) or []:
        if isinstance(entry, dict) and entry.get("call_id") == call_id:
            return entry
    return None


async def start_run(client: df.DurableOrchestrationClient, body: Any) -> str:
    """Validate a run request and start the run; its id."""
    try:
        request = parse_run_request(body)
    except RunRequestError as exc:
        raise RunControlError(400, exc.message, exc.field) from None
    problem = agent_problem(request)
    if problem is not None:
        raise RunControlError(400, problem[1], problem[0])
    run_id: str = await client.start_new(ORCHESTRATOR_NAME, None, request.model_dump(mode="json"))
    return run_id


async def run_view(client: df.DurableOrchestrationClient, run_id: str) -> dict[str, Any]:
    view = status_view(await _existing(client, run_id))
    await with_sub_run_progress(client, view["progress"])
    return view


async def list_runs(client: df.DurableOrchestrationClient, wanted: set[str], limit: int) -> list[dict[str, Any]]:
    """Runs, newest first, with the given runtime statuses (all when empty), at most ``limit``."""
    if not 1 <= limit <= 1000:
        raise RunControlError(400, "limit must be between 1 and 1000", "limit")
    # Every page: the client's get_status_all reads the first one only. Instances come in no
    # particular order on Azure Storage, so the newest are known only once all are read.
    known = sorted(wanted & KNOWN_STATUSES)
    if wanted and not known:
        return []  # no instance has a status the host does not know
    found = await all_instances(client, runtime_status=known, show_input=True)
    runs = [
        status_view(s)
        for s in map(DurableOrchestrationStatus.from_json, found)
        if s.name == ORCHESTRATOR_NAME and (not wanted or (s.runtime_status and s.runtime_status.value in wanted))
    ]
    runs.sort(key=lambda r: r["created"] or "", reverse=True)
    shown = ("id", "status", "objective", "created", "updated", "cost_usd")
    return [{k: r[k] for k in shown} for r in runs[:limit]]


async def run_timeline(client: df.DurableOrchestrationClient, run_id: str) -> dict[str, Any]:
    """The run's timeline and metrics: a finished run's from its report; a running one's are those it
    carried past its last continue-as-new (``complete`` is false until it finishes)."""
    status = await _existing(client, run_id)
    view = status_view(status)
    report = view["output"] if isinstance(view["output"], dict) else None
    if report is not None and isinstance(report.get("timeline"), list):
        entries, metrics = report["timeline"], report.get("metrics")
        started, finished = report.get("started_at"), report.get("finished_at")
    else:
        state = _run_input(status).get("state")
        entries = state.get("timeline", []) if isinstance(state, dict) else []
        metrics, finished = None, None
        started = state.get("started_at") if isinstance(state, dict) else view["created"]
    return {
        "id": view["id"],
        "status": view["status"],
        "trace_id": view["trace_id"],
        "started_at": started,
        "finished_at": finished,
        "complete": report is not None,
        "entries": entries,
        "metrics": metrics,
    }


async def decide_approval(
    client: df.DurableOrchestrationClient,
    run_id: str,
    call_id: str,
    approve: Any,
    comment: Any = "",
    answers: Any = None,
) -> None:
    """Approve or deny a call the run is waiting on.

    ``answers`` answers the questions of a call that asked for input (an entry of kind ``input``):
    by question key, an object with the fields its schema asks for.
    """
    if not isinstance(approve, bool):
        raise RunControlError(400, "approve: a boolean is required", "approve")
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT_CHARS:
        raise RunControlError(400, f"comment: a string of at most {MAX_COMMENT_CHARS} characters", "comment")
    if answers is not None and not (
        isinstance(answers, dict)
        and all(isinstance(v, dict) for v in answers.values())
        and len(json.dumps(answers)) <= MAX_ANSWER_CHARS
    ):
        message = f"input: an object of answers by question key (each an object), at most {MAX_ANSWER_CHARS} characters"
        raise RunControlError(400, message, "input")
    status = await _existing(client, run_id)
    if status.runtime_status and status.runtime_status.value in FINISHED:
        raise RunControlError(409, f"run {run_id} has already finished")
    target = run_id if pending_entry(status, "approvals", call_id) is not None else None
    if target is None:  # a network's agent asks from its sub-run
        target = await sub_run_waiting_for(client, status.custom_status, "approvals", call_id)
    if target is None:
        raise RunControlError(404, f"run {run_id} is not waiting for approval of call {call_id!r}")
    decision: dict[str, Any] = {"approve": approve, "comment": comment}
    if answers is not None:
        decision["input"] = answers
    await client.raise_event(target, approval_event(call_id), decision)
    # Every watcher sees the decision now, not when the run next publishes (it would, with the same keys).
    verdict = "approved" if approve else "denied"
    await publish(run_id, list(decision_events(run_id, target, call_id, verdict, now_ms())))


async def cancel_run(client: df.DurableOrchestrationClient, run_id: str) -> None:
    """Stop a run promptly: it starts no new activity and reports what it had done."""
    status = await _existing(client, run_id)
    if status.runtime_status and status.runtime_status.value in FINISHED:
        raise RunControlError(409, f"run {run_id} has already finished ({status.runtime_status.value})")
    await client.raise_event(run_id, CANCEL_EVENT, {"reason": "cancelled by request"})
    for sub_id in sub_run_ids(status.custom_status):
        await raise_if_running(client, sub_id, CANCEL_EVENT, {"reason": "the run was cancelled"})
