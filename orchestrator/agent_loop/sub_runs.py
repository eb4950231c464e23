"""The run API's view of a network run's sub-orchestrations (one agent on one task each).

A run lists the sub-runs it has in flight in its progress (``sub_runs``); the API follows that
list to show their progress under the run, to send them the run's cancel, and to find which
one waits for an approval or a reply. Only the durable client is used, so it works on Azure too.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

__all__ = ["raise_if_running", "sub_run_ids", "sub_run_waiting_for", "with_sub_run_progress"]

ACTIVE = {"Running", "Pending"}
SHOWN = ("phase", "agent", "current_task", "approvals", "waiting", "tool_calls", "usage")


def sub_run_ids(progress: Any) -> list[str]:
    entries = progress.get("sub_runs") if isinstance(progress, dict) else None
    return [str(e["id"]) for e in entries or [] if isinstance(e, dict) and e.get("id")]


async def _active_status(client: df.DurableOrchestrationClient, instance_id: str) -> Any:
    status = await client.get_status(instance_id)
    if not status or not status.runtime_status or status.runtime_status.value not in ACTIVE:
        return None
    return status


async def raise_if_running(client: df.DurableOrchestrationClient, instance_id: str, name: str, data: Any) -> None:
    if await _active_status(client, instance_id) is not None:
        await client.raise_event(instance_id, name, data)


async def sub_run_waiting_for(
    client: df.DurableOrchestrationClient, progress: Any, key: str, call_id: str
) -> str | None:
    """The id of the sub-run whose progress lists ``call_id`` under ``key`` (approvals, waiting)."""
    for sub_id in sub_run_ids(progress):
        status = await _active_status(client, sub_id)
        view = status.custom_status if status is not None and isinstance(status.custom_status, dict) else {}
        if any(isinstance(e, dict) and e.get("call_id") == call_id for e in view.get(key) or []):
            return sub_id
    return None


async def with_sub_run_progress(client: df.DurableOrchestrationClient, progress: Any) -> None:
    """Put each sub-run's own progress (phase, waits, calls) under its entry, for watchers."""
    for entry in progress.get("sub_runs") or [] if isinstance(progress, dict) else []:
        status = await client.get_status(str(entry.get("id")))
        view = status.custom_status if status is not None and isinstance(status.custom_status, dict) else {}
        entry["status"] = status.runtime_status.value if status is not None and status.runtime_status else None
        entry["progress"] = {k: view[k] for k in SHOWN if k in view}
