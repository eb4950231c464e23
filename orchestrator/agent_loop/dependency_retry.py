"""Waiting out a dependency that is away: the LLM gateway, a tool, or the memory service.

Deterministic orchestrator code. An activity that found its dependency away after its quick
retries (no connection, a timeout, 408, 429, 503 or 504; see ``activities.is_away``) returns
``away`` with the reason instead of failing. The run then waits on a durable timer, raced
against cancel, and calls again: first after ``retry_first_seconds`` (5 s), each wait twice
the last, up to ``retry_max_seconds`` (5 min), for as long as ``retry_limit_seconds`` and the
run's deadline allow. A timer is part of the run's history, so the wait survives a restart of
the host, and a waiting run holds no worker, unlike a sleep inside the activity. Meanwhile the
run's progress lists the wait under ``retrying``. Calls that change something carry the same
idempotency key on every try, so a call the service took before it went away acts once.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from azure.durable_functions.models.Task import TaskBase

from .activity_contracts import SERVICE_AWAY
from .planning import one_line
from .run_request import RunOptions
from .state import Task

if TYPE_CHECKING:
    from .orchestration import AgentRun

__all__ = ["backoff_seconds", "retry_while_away"]

Steps = Generator[Any, Any, Any]


def backoff_seconds(options: RunOptions, retry: int) -> float:
    """The wait before retry number ``retry`` (0 first): doubling from the first, capped."""
    return float(min(options.retry_max_seconds, options.retry_first_seconds * 2 ** min(retry, 32)))


def _give_up_at(run: AgentRun, since: datetime) -> datetime:
    limit = run.request.options.retry_limit_seconds
    deadline = run._run_deadline()
    return deadline if limit is None else min(deadline, since + timedelta(seconds=limit))


def _away_text(result: dict[str, Any]) -> str:
    """How the dependency was away; a tool's result kept by an earlier version says only ``True``."""
    away = result.get("away")
    return away if isinstance(away, str) else str(result.get("error") or SERVICE_AWAY)


def retry_while_away(
    run: AgentRun, kind: str, name: str, call: Callable[[], TaskBase], result: dict[str, Any], task: Task | None
) -> Steps:
    """``result``, or the result of calling again (``call`` schedules the same activity) once the dependency is back.

    Returns the last result, with ``retries`` and ``away_seconds`` when it waited; that result
    still has ``away`` when the dependency did not come back in time.
    """
    if not result.get("away"):
        return result
    options = run.request.options
    since = run.context.current_utc_datetime
    give_up_at = _give_up_at(run, since)
    retries = 0
    while result.get("away"):
        wake = run.context.current_utc_datetime + timedelta(seconds=backoff_seconds(options, retries))
        if wake > give_up_at:
            break
        entry = {
            "kind": kind,
            "name": name,
            "task_id": task.id if task else None,
            "since": since.isoformat(),
            "retry": retries + 1,
            "next_at": wake.isoformat(),
            "error": one_line(_away_text(result), 200),
        }
        run.retrying.append(entry)
        run._status(*run._shown)
        try:
            yield from run._sleep_until(wake)
        finally:
            run.retrying.remove(entry)
        result = yield from run._guarded(call())
        retries += 1
    waited = (run.context.current_utc_datetime - since).total_seconds()
    if result.get("away"):
        run.state.events.append(
            f"{kind} {name}: still away after {retries} retries over {waited:.0f} s "
            f"({one_line(_away_text(result), 200)}); gave up"
        )
    else:
        run.state.events.append(f"{kind} {name}: was away; back after {retries} retries over {waited:.0f} s")
    return {**result, "retries": retries, "away_seconds": waited}
