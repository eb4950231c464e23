"""Follow a run until it ends: a live view in a terminal, one line per change otherwise.

The run's event stream (``GET /api/runs/{id}/events``) says the moment something happens, and
carries the model's text as it is written, which is printed as it arrives. Each event other
than a piece of text reads the run's status again, so the lines and the view are those a poll
would give. Where the stream cannot be had (an app without it, live events off, the channel
down) the run is polled, which every host supports. Ctrl-C reaches the caller as
KeyboardInterrupt: the command detaches, the run itself goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

from toolmesh_cli.client import ApiClient
from toolmesh_cli.errors import ApiConnectionError
from toolmesh_cli.render import one_line, render_run
from toolmesh_cli.run_stream import StreamUnavailable
from toolmesh_cli.schemas import RunStatus

__all__ = ["DEFAULT_POLL_INTERVAL", "ChangeLog", "follow_run"]

DEFAULT_POLL_INTERVAL = 1.0
"""Seconds between status polls (without the stream, or while the run ends); the console's pace."""

_LIVE_TEXT_CHARS = 2000
"""How much of the text being written the terminal view shows (its end)."""

_SILENT_EVENTS = frozenset({"TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END", "TOOL_CALL_START",
                            "TOOL_CALL_ARGS", "TOOL_CALL_END", "STEP_STARTED", "STEP_FINISHED"})  # fmt: skip
"""Events that change nothing the lines show by themselves (another event follows that does):
they need no new look at the run."""

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
    ended: bool = False

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
        if run.finished and not self.ended:
            self.ended = True
            if run.output is not None:
                yield f"outcome {run.output.outcome}: {run.output.stop_reason}"
            if run.failure:
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


class _LineView:
    """Not a terminal: one line per change, and the model's text written as it comes."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.log = ChangeLog()
        self.writing = False

    def __enter__(self) -> _LineView:
        return self

    def __exit__(self, *exc: object) -> None:
        self._end_text()

    def show(self, run: RunStatus) -> None:
        for line in self.log.changes(run):
            self.note(line)

    def note(self, line: str) -> None:
        self._end_text()
        self.console.print(line, highlight=False, markup=False, soft_wrap=True)

    def text_start(self, name: str) -> None:
        self._end_text()
        self._write(f"{name}: ")
        self.writing = True

    def text(self, delta: str) -> None:
        if not self.writing:
            self.text_start("model")
        self._write(delta)

    def text_end(self) -> None:
        self._end_text()

    def _end_text(self) -> None:
        if self.writing:
            self.writing = False
            self._write("\n")

    def _write(self, text: str) -> None:
        self.console.print(text, end="", highlight=False, markup=False, soft_wrap=True)
        self.console.file.flush()


class _LiveView:
    """A terminal: the run's view redrawn in place, with the end of the text being written below it."""

    def __init__(self, console: Console, run: RunStatus) -> None:
        self.run = run
        self.writing = Text()
        self.live = Live(self._render(), console=console, refresh_per_second=8, transient=False)

    def __enter__(self) -> _LiveView:
        self.live.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.live.__exit__(exc_type, exc, tb)

    def _render(self) -> RenderableType:
        if not self.writing:
            return render_run(self.run)
        return Group(render_run(self.run), self.writing)

    def show(self, run: RunStatus) -> None:
        self.run = run
        if run.finished:
            self.writing = Text()
        self.live.update(self._render())

    def note(self, line: str) -> None:
        self.live.console.print(line, style="dim", highlight=False, markup=False)

    def text_start(self, name: str) -> None:
        self.writing = Text(f"{name}: ", style="bold")
        self.live.update(self._render())

    def text(self, delta: str) -> None:
        self.writing.append(delta)
        if len(self.writing) > _LIVE_TEXT_CHARS:
            self.writing = self.writing[-_LIVE_TEXT_CHARS:]
        self.live.update(self._render())

    def text_end(self) -> None:
        pass  # the text stays until the next message replaces it


def _follow_stream(client: ApiClient, run: RunStatus, view: _LineView | _LiveView, failures: list[int]) -> RunStatus:
    """Show the run's events as they come until its closing event; returns its status then."""
    for event in client.run_events(run.id):
        kind = event.type
        if kind == "TEXT_MESSAGE_START":
            view.text_start(str(event.data.get("name") or "model"))
        elif kind == "TEXT_MESSAGE_CONTENT":
            view.text(str(event.data.get("delta") or ""))
        elif kind == "TEXT_MESSAGE_END":
            view.text_end()
        elif kind not in _SILENT_EVENTS:
            run = _poll(client, run.id, failures) or run
            view.show(run)
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
    """Follow ``run_id`` (its event stream, else polls) until it is finished; returns its last status."""
    failures = [0]
    run = client.get_run(run_id)
    use_live = console.is_terminal if live is None else live
    with _LiveView(console, run) if use_live else _LineView(console) as view:
        view.show(run)
        if not run.finished:
            try:
                run = _follow_stream(client, run, view, failures)
            except StreamUnavailable as exc:
                view.note(f"following by polling: {exc}")
        # The closing event can come a moment before the status says the run is finished.
        while not run.finished:
            sleep(interval)
            run = _poll(client, run_id, failures) or run
            view.show(run)
    return run
