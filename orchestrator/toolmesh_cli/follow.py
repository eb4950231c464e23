"""Follow a run until it ends: a live view in a terminal, one line per change otherwise.

Polling the status endpoint is the only thing the contract promises on every host (the
local one and Azure), so following is a loop of GETs. Ctrl-C reaches the caller as
KeyboardInterrupt: the command detaches, the run itself goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from rich.console import Console
from rich.live import Live

from toolmesh_cli.client import ApiClient
from toolmesh_cli.errors import ApiConnectionError
from toolmesh_cli.render import one_line, render_run
from toolmesh_cli.schemas import RunStatus

__all__ = ["DEFAULT_POLL_INTERVAL", "ChangeLog", "follow_run"]

DEFAULT_POLL_INTERVAL = 1.0
"""Seconds between status polls; the console page polls at the same pace."""

_MAX_CONNECTION_FAILURES = 10
"""Consecutive failed polls tolerated (a host restart) before giving up."""


@dataclass(kw_only=True)
class ChangeLog:
    """Remembers what was already reported, so each change prints once."""

    status: str = ""
    phase: str = ""
    done: set[str] = field(default_factory=set)
    calls: set[str] = field(default_factory=set)
    asked: set[str] = field(default_factory=set)
    waiting: set[str] = field(default_factory=set)
    retrying: set[str] = field(default_factory=set)

    def changes(self, run: RunStatus) -> Iterator[str]:
        """Lines describing what changed since the previous poll."""
        if run.status != self.status:
            self.status = run.status
            yield f"status {run.status}"
        progress = run.progress
        if progress is not None:
            if progress.phase != self.phase:
                self.phase = progress.phase
                yield f"phase {progress.phase} (iteration {progress.iteration})"
            for task in progress.done:
                if str(task.id) not in self.done:
                    self.done.add(str(task.id))
                    yield f"task {task.id} done: {task.task} -> {one_line(task.result, 120)}"
            for call in progress.tool_calls:
                key = f"{call.call_id}:{call.ok}"
                if call.ok is not None and key not in self.calls:
                    self.calls.add(key)
                    outcome = "ok" if call.ok else "error"
                    yield (
                        f"tool call {call.function}({one_line(call.arguments, 80)}) {outcome} "
                        f"{call.status or ''} {one_line(call.summary, 80)}".rstrip()
                    )
            for approval in progress.approvals:
                if approval.call_id not in self.asked:
                    self.asked.add(approval.call_id)
                    yield (
                        f"approval needed: {approval.function}({one_line(approval.arguments, 80)}) "
                        f"-> toolmesh approve {run.id} {approval.call_id} [--deny]"
                    )
            for waiting in progress.waiting:
                if waiting.call_id not in self.waiting:
                    self.waiting.add(waiting.call_id)
                    yield (
                        f"waiting for a reply to {waiting.function} (call {waiting.call_id}) "
                        f"-> toolmesh reply {run.id} {waiting.call_id} TEXT"
                    )
            for retry in progress.retrying:
                key = f"{retry.kind}:{retry.name}:{retry.retry}"
                if key not in self.retrying:
                    self.retrying.add(key)
                    yield (
                        f"{retry.kind} {retry.name} waits for its dependency (retry {retry.retry} "
                        f"at {retry.next_at}): {one_line(retry.error, 120)}"
                    )
        if run.output is not None and run.finished:
            yield f"outcome {run.output.outcome}: {run.output.stop_reason}"
        if run.failure and run.finished:
            yield f"run failed: {one_line(run.failure, 300)}"


def _poll(client: ApiClient, run_id: str, failures: list[int]) -> RunStatus | None:
    try:
        run = client.get_run(run_id)
    except ApiConnectionError:
        failures[0] += 1
        if failures[0] >= _MAX_CONNECTION_FAILURES:
            raise
        return None
    failures[0] = 0
    return run


def follow_run(
    client: ApiClient,
    run_id: str,
    *,
    console: Console,
    interval: float = DEFAULT_POLL_INTERVAL,
    live: bool | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RunStatus:
    """Poll ``run_id`` until it is finished and return its last status."""
    failures = [0]
    run = client.get_run(run_id)
    use_live = console.is_terminal if live is None else live
    if use_live:
        with Live(render_run(run), console=console, refresh_per_second=4, transient=False) as view:
            while not run.finished:
                sleep(interval)
                run = _poll(client, run_id, failures) or run
                view.update(render_run(run))
        return run
    log = ChangeLog()
    while True:
        for line in log.changes(run):
            console.print(line, highlight=False, markup=False, soft_wrap=True)
        if run.finished:
            return run
        sleep(interval)
        run = _poll(client, run_id, failures) or run
