"""Orchestrator sessions: a running orchestration's SDK state kept in memory between episodes.

Out of process, the SDK rebuilds an orchestration every episode by running its generator over
the whole history (protocol §1.3), so an execution of n steps costs O(n²) replay, and the reply
carries every action since the execution began. A session keeps what that replay would rebuild
(the SDK's executor, its context and the suspended generator) and gives the next episode of the
same execution only the history entries it has not processed. The SDK then processes the events
a full replay would process after that point, in the same order and with the same replay
flags, so its reply is the same (``test_sessions.py`` compares every episode's commit with a
full replay's). The Durable extension calls this extended sessions.

A session is a cache; the store stays the truth. No session (a restart, an eviction, a failed
commit, a new execution) means a full replay, as before. The trade-off is the extension's: a
non-deterministic orchestrator is caught only by a full replay, which a warm instance skips.

Actions the host has materialised are dropped from the context after each commit, so a reply
carries only the new ones and says how many came before (``OrchestratorReply.action_offset``).
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext
from azure.durable_functions.models.history.HistoryEvent import HistoryEvent
from azure.durable_functions.models.ReplaySchema import ReplaySchema
from azure.durable_functions.models.TaskOrchestrationExecutor import TaskOrchestrationExecutor
from azure.durable_functions.orchestrator import Orchestrator

from durable_host.episode import OrchestratorReply
from durable_host.invoke import run_orchestrator
from durable_host.store import TERMINAL_STATUSES, EpisodeCommit

__all__ = [
    "DEFAULT_IDLE_SECONDS",
    "DEFAULT_MAX_SESSIONS",
    "Session",
    "SessionCache",
    "after_commit",
    "resumable",
    "start",
]

DEFAULT_MAX_SESSIONS = 500
DEFAULT_IDLE_SECONDS = 300.0

# What resuming relies on in the SDK's executor; without any of it, every episode replays in full.
_EXECUTOR_MEMBERS = (
    "process_event",
    "get_orchestrator_state_str",
    "has_execution_completed",
    "_find_new_events_start_index",
)


@dataclass(eq=False)
class Session:
    """One execution's SDK state after an episode, and how much of the history it has seen."""

    execution_id: str
    executor: TaskOrchestrationExecutor
    context: DurableOrchestrationContext
    seen: int = 0
    """History entries the SDK has processed (the stored history is append-only per execution)."""
    action_offset: int = 0
    """Flattened actions dropped from the context because the host has materialised them."""
    last_used: float = field(default_factory=time.monotonic)

    def resume(self, history: Sequence[str], sdk_events: Sequence[str]) -> OrchestratorReply:
        """Run the episode on the kept state: the unseen stored entries, then this episode's events.

        Mirrors ``TaskOrchestrationExecutor.execute``'s loop: events before this episode's
        ``OrchestratorStarted`` are old (replayed), the rest new.
        """
        texts = [*history[self.seen :], *sdk_events]
        events = [HistoryEvent(**json.loads(text)) for text in texts]
        executor = self.executor
        new_from = executor._find_new_events_start_index(events)
        self.context._histories.extend(events)
        executor._is_processing_new_events = False
        try:
            for index, event in enumerate(events):
                if index == new_from:
                    executor._is_processing_new_events = True
                executor.process_event(event)
                if executor.has_execution_completed:
                    break
            text = executor.get_orchestrator_state_str()
        except Exception as exc:  # as run_orchestrator: the SDK raises uncaught errors with state attached
            return OrchestratorReply(error=str(exc), action_offset=self.action_offset)
        return OrchestratorReply(text=text, action_offset=self.action_offset)

    def settle(self, seen: int, cursor: int) -> None:
        """After the episode's commit: all of ``seen`` processed, actions up to ``cursor`` materialised."""
        self.seen = seen
        self.context._action_payload_v2.clear()
        self.action_offset = cursor


def after_commit(session: Session | None, commit: EpisodeCommit, seen: int | None) -> Session | None:
    """The session to keep once its episode's ``commit`` is stored; None when the execution ended.

    ``seen`` is how much of the history the SDK has now processed (None: it did not run).
    """
    row = commit.instance
    if session is None or row.status in TERMINAL_STATUSES or row.execution_id != session.execution_id:
        return None
    if seen is not None:
        session.settle(seen, row.state.cursor)
    return session


def start(handle: Callable[..., Any], body: str, execution_id: str) -> tuple[OrchestratorReply, Session | None]:
    """A full replay from ``body``, keeping the SDK's state as a session when it can resume.

    Builds the context and ``Orchestrator`` as ``Orchestrator.create``'s handle does, so the
    executor it makes stays reachable; any other handle runs as a plain full replay. Callers
    check :func:`resumable` once (the engine does at start).
    """
    fn = getattr(handle, "orchestrator_function", None)
    if fn is None:
        return run_orchestrator(handle, body), None
    try:
        context = DurableOrchestrationContext.from_json(body)
        context._input_expected_type = getattr(handle, "_df_input_type", None)
        orchestrator = Orchestrator(fn)
        text = orchestrator.handle(context)
    except Exception as exc:
        return OrchestratorReply(error=str(exc)), None
    if context._replay_schema.value < ReplaySchema.V2.value:
        return OrchestratorReply(text=text), None  # V1 nests actions per step; not worth a second path
    return OrchestratorReply(text=text), Session(execution_id, orchestrator.task_orchestration_executor, context)


def resumable() -> bool:
    """Whether the installed SDK has everything :meth:`Session.resume` uses."""
    return all(hasattr(TaskOrchestrationExecutor, name) for name in _EXECUTOR_MEMBERS) and hasattr(ReplaySchema, "V2")


class SessionCache:
    """Sessions by instance id, least recently used first; each is taken for an episode and put back."""

    def __init__(
        self,
        *,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_sessions = max_sessions
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    @property
    def enabled(self) -> bool:
        return self.max_sessions > 0

    def take(self, instance_id: str, execution_id: str, history_length: int) -> Session | None:
        """The instance's session if it belongs to this execution and history; it leaves the cache."""
        session = self._sessions.pop(instance_id, None)
        if session is None or session.execution_id != execution_id or session.seen > history_length:
            return None
        return session

    def put(self, instance_id: str, session: Session) -> None:
        if not self.enabled:
            return
        session.last_used = self._clock()
        self._sessions[instance_id] = session
        self._sessions.move_to_end(instance_id)
        self.evict(session.last_used)

    def drop(self, instance_id: str) -> None:
        self._sessions.pop(instance_id, None)

    def evict(self, now: float) -> None:
        """Drop the oldest sessions beyond the limit and every one idle for too long."""
        while self._sessions:
            oldest = next(iter(self._sessions.values()))
            if len(self._sessions) <= self.max_sessions and now - oldest.last_used < self.idle_seconds:
                break
            self._sessions.popitem(last=False)

    def next_expiry(self) -> float | None:
        """When (on the cache's monotonic clock) the least recently used session goes idle, if any is kept."""
        if not self._sessions:
            return None
        return next(iter(self._sessions.values())).last_used + self.idle_seconds
