"""The scheduler: runs orchestration episodes and activities from the durable store.

One asyncio task wakes on new work (an ``asyncio.Event``) or at the next timer, starts
episodes for instances with visible messages (one episode per instance at a time) and
dispatches activity work items up to the concurrency limit. An instance with an orchestrator
session (``sessions.py``) resumes it on the loop with only the new events; full replays of long
histories run on one worker thread so the event loop stays responsive, short ones (about a
millisecond) on the loop, which is cheaper than the two thread hand-offs. Episodes never run
beside a threaded one.
Activities run in the worker processes (``workers.py``) when there are any; otherwise (the
default) sync ones run in a thread pool and async ones on the loop. Nothing polls while idle.

The common path skips that pass: work committed to the store is handed on directly. A commit's
new activities start at once when there is capacity and no older work item waits; a finished
activity starts its instance's episode when none runs (and no fan-in hold applies); an episode
that ends with messages left starts the next. Anything else (timers, holds, suspended
instances, a backlog) wakes the scheduler. Every hand-off happens after the commit it depends on.

All writes to the store go through this class, which also keeps each active instance's row and
history in memory (the store stays the truth; the caches spare re-reading it every episode).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from durable_host import episode, sdk_speedups, sessions
from durable_host import history as h
from durable_host.clock import SYSTEM_CLOCK, HostClock
from durable_host.discovery import FunctionIndex
from durable_host.errors import BadRequestError, InstanceAlreadyExists, InstanceGone, InstanceNotFound
from durable_host.invoke import http_activity_client, run_activity, run_orchestrator
from durable_host.sessions import Session, SessionCache
from durable_host.store import (
    TERMINAL_STATUSES,
    ActivityRow,
    EpisodeCommit,
    InstanceFilter,
    InstanceRow,
    MessageKind,
    MessageRow,
    NewMessage,
    RuntimeStatus,
    Store,
)
from durable_host.workers import WorkerPool

__all__ = ["Engine", "validate_instance_id"]

log = logging.getLogger("durable_host")

MAX_CONCURRENT_EPISODES = 8
READY_BATCH = 500
MAX_FAN_IN_HOLD = 0.25
MIN_HOLD_EPISODE = 0.002
MAX_INSTANCE_ID_LENGTH = 256
INLINE_REPLAY_EVENTS = 400  # about a millisecond of replay: cheaper inline than two thread hand-offs
DEFAULT_EPISODE_ATTEMPTS = 5
FIRST_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
_FATAL = (asyncio.CancelledError, KeyboardInterrupt, SystemExit)


def validate_instance_id(instance_id: str) -> None:
    """The real host's rules and messages (``DurableClient.StartNewAsync``, a7c6d694).

    Its first two checks pass message and parameter name to ArgumentException the wrong way
    round, so on .NET the message reads ``instanceId (Parameter '...')``: kept to the letter,
    since the SDK's ``start_new`` raises exactly that text.
    """
    if instance_id.startswith("@"):
        raise BadRequestError("instanceId (Parameter 'Orchestration instance ids must not start with @.')")
    if any(c in "/\\?#" or _is_control(c) for c in instance_id):
        raise BadRequestError(
            "instanceId (Parameter 'Orchestration instance ids must not contain /, \\, #, ?, or control characters.')"
        )
    if len(instance_id) > MAX_INSTANCE_ID_LENGTH:
        raise BadRequestError(f"Instance ID lengths must not exceed {MAX_INSTANCE_ID_LENGTH} characters.")


def _is_control(c: str) -> bool:
    """.NET's ``char.IsControl``: the Unicode category Cc (U+0000-U+001F and U+007F-U+009F)."""
    code = ord(c)
    return code < 0x20 or 0x7F <= code <= 0x9F


def _replay(
    fn: Callable[..., Any] | None,
    instance: InstanceRow,
    history: list[str],
    messages: list[MessageRow],
    now: datetime,
    session: Session | None,
    keep_sessions: bool,
) -> tuple[episode.EpisodePlan, episode.OrchestratorReply | None, Session | None]:
    """Plan the episode and, when the orchestrator must run, run it: on the instance's session
    when it has one, else as a full replay (which starts a session when ``keep_sessions``)."""
    plan = episode.prepare(instance, history, messages, now, with_body=session is None)
    if plan.commit is not None:
        return plan, None, session
    if fn is None:
        error = f"The function '{instance.name}' doesn't exist, is disabled, or is not an orchestrator function."
        return plan, episode.OrchestratorReply(error=error), None
    if session is not None:
        return plan, session.resume(history, plan.sdk_events), session
    assert plan.body is not None
    if not keep_sessions:
        return plan, run_orchestrator(fn, plan.body), None
    reply, started = sessions.start(fn, plan.body, instance.execution_id)
    return plan, reply, started


class Engine:
    """Owns the store, the history cache and the background scheduling loop."""

    def __init__(
        self,
        store: Store,
        functions: FunctionIndex,
        *,
        activity_concurrency: int,
        session_cache: SessionCache | None = None,
        workers: WorkerPool | None = None,
        episode_attempts: int = DEFAULT_EPISODE_ATTEMPTS,
        client_binding: str | None = None,
        clock: HostClock = SYSTEM_CLOCK,
    ) -> None:
        self.store = store
        self._clock = clock
        self._episode_attempts = episode_attempts
        self._episode_failures: dict[str, int] = {}
        self._client_binding = client_binding
        self.functions = functions
        self._concurrency = activity_concurrency
        self._wake = asyncio.Event()
        self._stopping = False
        self._history: dict[str, list[str]] = {}
        self._rows: dict[str, InstanceRow] = {}
        self._sessions = session_cache if session_cache is not None else SessionCache(clock=clock.monotonic)
        self._finish_waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._episodes_running: set[str] = set()
        self._replays_in_thread = 0
        self._held_until: dict[str, float] = {}
        self._last_episode: dict[str, tuple[float, float]] = {}
        self._episode_slots = asyncio.Semaphore(MAX_CONCURRENT_EPISODES)
        self._activities_running = 0
        self._last_dispatched_activity = 0
        self._backlog_clear = False  # True once every work item up to the cursor is known dispatched
        self._orchestrator_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orchestrator")
        self._activity_threads = ThreadPoolExecutor(max_workers=activity_concurrency, thread_name_prefix="activity")
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._http = http_activity_client()
        self._workers = workers
        installed = sdk_speedups.install()
        missing = [name for name, done in vars(installed).items() if not done]
        if missing:
            log.warning("SDK speedups not installed (unexpected SDK code): %s", ", ".join(missing))
        if self._sessions.enabled and not sessions.resumable():
            log.warning("orchestrator sessions off: the SDK's executor is not the expected one")
            self._sessions.max_sessions = 0

    # ---- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        if self._workers is not None:
            self._spawn(self._workers.start())
        self._loop_task = asyncio.create_task(self._run(), name="durable-host-scheduler")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            await asyncio.wait([self._loop_task], timeout=5)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        if self._workers is not None:
            await self._workers.stop()
        self._orchestrator_thread.shutdown(wait=False, cancel_futures=True)
        self._activity_threads.shutdown(wait=False, cancel_futures=True)
        await self._http.aclose()

    def wake(self) -> None:
        self._wake.set()

    # ---- the loop --------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            now = self._clock.wall()
            try:
                self._dispatch_episodes(now)
                self._dispatch_activities()
                due = self.store.next_due(now)
            except Exception:
                log.exception("scheduler pass failed")
                due = now + 1.0
            timeout = None if due is None else max(0.0, due - self._clock.wall())
            self._sessions.evict(self._clock.monotonic())
            for release_at in (min(self._held_until.values(), default=None), self._sessions.next_expiry()):
                if release_at is not None:
                    release = max(0.0, release_at - self._clock.monotonic())
                    timeout = release if timeout is None else min(timeout, release)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    def _dispatch_episodes(self, now: float) -> None:
        clock = self._clock.monotonic()
        self._held_until.clear()
        for instance_id in self.store.ready_instances(now, READY_BATCH):
            if instance_id in self._episodes_running:
                continue
            release = self._fan_in_release(instance_id, clock)
            if release is not None:
                self._held_until[instance_id] = release
                continue
            self._episodes_running.add(instance_id)
            self._spawn(self._episode(instance_id))

    def _fan_in_release(self, instance_id: str, clock: float) -> float | None:
        """When to replay an instance that is collecting a fan-in, or None to replay now.

        Each episode replays the whole history, so delivering a fan-in's results one by one
        costs a replay of a large history per result. While the instance still has other
        activities out, its next episode waits as long as its last one took (at most
        MAX_FAN_IN_HOLD): replay overhead stays near half the time and sequential work,
        which has nothing else out, is never delayed.
        """
        last = self._last_episode.get(instance_id)
        if last is None:
            return None
        ended, took = last
        release = ended + min(took, MAX_FAN_IN_HOLD)
        if took < MIN_HOLD_EPISODE or release <= clock or not self.store.has_activities(instance_id):
            return None
        return release

    def _dispatch_activities(self) -> None:
        free = self._concurrency - self._activities_running
        if free <= 0 or self._backlog_clear:
            return
        rows = self.store.pending_activities(self._last_dispatched_activity, free)
        for row in rows:
            self._start_activity(row)
        self._backlog_clear = len(rows) < free

    def _dispatch_committed(self, rows: list[ActivityRow]) -> bool:
        """Start a commit's new work items at once; False when some must wait for the scheduler.

        Safe only while no older work item waits (the cursor must never pass one).
        """
        if not rows:
            return True
        if not self._backlog_clear:
            return False
        free = self._concurrency - self._activities_running
        for row in rows[: max(free, 0)]:
            self._start_activity(row)
        self._backlog_clear = len(rows) <= free
        return self._backlog_clear

    def _start_activity(self, row: ActivityRow) -> None:
        self._last_dispatched_activity = row.id
        self._activities_running += 1
        self._spawn(self._activity(row))

    def _deliver(self, instance_id: str) -> None:
        """A message for ``instance_id`` is committed: start its episode now, or leave it to the scheduler."""
        if instance_id in self._episodes_running:
            return  # the running episode looks for messages when it ends
        row = self._rows.get(instance_id)
        if (
            row is None
            or row.status is RuntimeStatus.SUSPENDED
            or self._fan_in_release(instance_id, self._clock.monotonic()) is not None
        ):
            self._wake.set()
            return
        self._episodes_running.add(instance_id)
        self._spawn(self._episode(instance_id))

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _episode(self, instance_id: str) -> None:
        settled = False
        try:
            async with self._episode_slots:
                began = self._clock.monotonic()
                await self._run_episode(instance_id)
                ended = self._clock.monotonic()
                self._last_episode[instance_id] = (ended, ended - began)
            self._episode_failures.pop(instance_id, None)
            settled = not self.store.has_visible_messages(instance_id, self._clock.wall())
        except BaseException as exc:
            if isinstance(exc, _FATAL):
                raise
            await self._episode_failed(instance_id, exc)
        finally:
            self._episodes_running.discard(instance_id)
        if not settled:
            self._deliver(instance_id)

    async def _episode_failed(self, instance_id: str, exc: BaseException) -> None:
        """Retry an episode the host could not run, with a growing delay, a bounded number of times.

        An error inside the orchestrator fails the instance through the SDK's reply; what gets
        here went wrong around it (an orchestrator that raised past the SDK, the store, a bug),
        and may well happen again. After ``episode_attempts`` failures in a row the instance is
        marked Failed with the reason in its status instead of being retried forever.
        """
        failures = self._episode_failures.get(instance_id, 0) + 1
        self._episode_failures[instance_id] = failures
        error = f"{type(exc).__name__}: {exc}"
        if failures < self._episode_attempts:
            delay = min(FIRST_RETRY_DELAY * 2 ** (failures - 1), MAX_RETRY_DELAY)
            log.error(
                "episode of instance %s failed (attempt %d of %d), retrying in %.1f s: %s",
                instance_id,
                failures,
                self._episode_attempts,
                delay,
                error,
                exc_info=exc,
            )
            await asyncio.sleep(delay)
            return
        reason = (
            f"the host could not run an episode of this instance in {failures} attempts; the last error was {error}"
        )
        log.error(
            "instance %s is poison: %d episodes in a row failed; it is marked Failed (last error: %s)",
            instance_id,
            failures,
            error,
            exc_info=exc,
        )
        try:
            row = self.store.get_instance(instance_id)
            if row is None or row.status in TERMINAL_STATUSES:
                return
            now = self._clock.now()
            consumed = [m.id for m in self.store.visible_messages(instance_id, now.timestamp())]
            self._commit(episode.give_up(row, consumed, now, reason))
            self._episode_failures.pop(instance_id, None)
        except Exception:
            log.exception("could not mark poison instance %s Failed; it will be tried again", instance_id)
            await asyncio.sleep(MAX_RETRY_DELAY)

    async def _run_episode(self, instance_id: str) -> None:
        instance = self._rows.get(instance_id) or self.store.get_instance(instance_id)
        if instance is None:
            return
        self._rows[instance_id] = instance
        now = self._clock.now()
        messages = self.store.visible_messages(instance_id, now.timestamp())
        if not messages:
            return
        history = self._load_history(instance_id)
        seen = len(history)
        fn = self.functions.orchestrators.get(instance.name)
        session = self._sessions.take(instance_id, instance.execution_id, seen)
        args = (fn, instance, history, messages, now, session, self._sessions.enabled)
        if (session is not None or seen <= INLINE_REPLAY_EVENTS) and not self._replays_in_thread:
            # A session's episode or a short replay costs less than two thread hand-offs;
            # episodes stay one at a time.
            plan, reply, session = _replay(*args)
        else:
            # Building the body and replaying are both O(history): keep long ones off the event loop.
            self._replays_in_thread += 1
            try:
                plan, reply, session = await asyncio.get_running_loop().run_in_executor(
                    self._orchestrator_thread, _replay, *args
                )
            finally:
                self._replays_in_thread -= 1
        if self._rows.get(instance_id) is not instance:
            return  # purged or recreated while the episode ran: its result no longer applies
        if plan.commit is not None:
            self._commit(plan.commit)
            self._keep_session(instance_id, session, plan.commit, None)
            return
        assert reply is not None
        commit = episode.finish(plan, reply, self)
        self._commit(commit)
        self._keep_session(instance_id, session, commit, seen + len(plan.sdk_events))

    def _keep_session(self, instance_id: str, session: Session | None, commit: EpisodeCommit, seen: int | None) -> None:
        kept = sessions.after_commit(session, commit, seen)
        if kept is not None:
            self._sessions.put(instance_id, kept)

    async def _activity(self, row: ActivityRow) -> None:
        delivered = False
        try:
            if self._workers is not None:
                event = await self._workers.run(row.name, row.input, row.task_id, self._client_binding)
            else:
                event = await run_activity(
                    self.functions.activities,
                    row.name,
                    row.input,
                    row.task_id,
                    self._activity_threads,
                    self._http,
                    self._client_binding,
                )
            message = NewMessage(
                instance_id=row.instance_id,
                kind=MessageKind.EVENT,
                payload=event,
                execution_id=row.execution_id,
            )
            delivered = self.store.finish_activity(row.id, message)
        finally:
            self._activities_running -= 1
            if not self._backlog_clear:
                self._wake.set()  # a waiting work item can take the freed slot
        if delivered:
            self._deliver(row.instance_id)

    # ---- history cache ---------------------------------------------------------------

    def _load_history(self, instance_id: str) -> list[str]:
        cached = self._history.get(instance_id)
        if cached is None:
            cached = self.store.load_history(instance_id)
            self._history[instance_id] = cached
        return cached

    def _commit(self, commit: EpisodeCommit) -> None:
        activities = self.store.commit_episode(commit)
        instance_id = commit.instance.instance_id
        if commit.reset_history:
            self._history[instance_id] = []
        cached = self._history.get(instance_id)
        if cached is not None:
            cached.extend(commit.history_append)
        if commit.instance.status in TERMINAL_STATUSES:
            self._forget(instance_id)
            for finished in self._finish_waiters.pop(instance_id, ()):
                if not finished.done():
                    finished.set_result(None)
        else:
            self._rows[instance_id] = commit.instance
        for child in commit.new_instances:
            self._history.pop(child.instance_id, None)
            self._sessions.drop(child.instance_id)
            self._rows[child.instance_id] = child
        if not self._dispatch_committed(activities) or commit.new_messages or commit.new_instances:
            self._wake.set()  # timers, messages to other instances, children, a backlog

    def _forget(self, instance_id: str) -> None:
        """Drop the caches of an instance that finished or was purged."""
        self._history.pop(instance_id, None)
        self._rows.pop(instance_id, None)
        self._last_episode.pop(instance_id, None)
        self._episode_failures.pop(instance_id, None)
        self._sessions.drop(instance_id)

    # ---- what episodes ask of the host ----------------------------------------------

    def is_orchestrator(self, name: str) -> bool:
        return name in self.functions.orchestrators

    def is_active(self, instance_id: str) -> bool:
        row = self.store.get_instance(instance_id)
        return row is not None and row.status not in TERMINAL_STATUSES

    # ---- management operations -------------------------------------------------------

    def start_new(self, name: str, instance_id: str | None, input_json: str | None) -> InstanceRow:
        """Create an instance (``input_json`` is the JSON text of the orchestrator's input value).

        Checks in the real host's order (``DurableClient.StartNewAsync``, a7c6d694): the
        function, then the id, then DTFx's dedupe against instances that have not finished.
        """
        if name not in self.functions.orchestrators:
            known = "', '".join(self.functions.orchestrators)
            info = (
                f"The following are the known orchestrator functions: '{known}'."
                if known
                else "No orchestrator functions are currently registered!"
            )
            raise BadRequestError(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function. "
                f"Additional info: {info}"
            )
        instance_id = instance_id or uuid.uuid4().hex
        validate_instance_id(instance_id)
        existing = self.store.get_instance(instance_id)
        if existing is not None and existing.status not in TERMINAL_STATUSES:
            raise InstanceAlreadyExists(f"An Orchestration instance with the status {existing.status} already exists.")
        now = self._clock.now()
        row = InstanceRow.new(instance_id=instance_id, name=name, input_json=input_json, created_time=h.dtfx_time(now))
        self.store.start_instance(row, episode.start_message(row, now), replace_existing=existing is not None)
        self._forget(instance_id)
        self._rows[instance_id] = row
        self._deliver(instance_id)
        return row

    async def wait_finished(self, instance_id: str, timeout: float) -> InstanceRow | None:
        """The instance once it has finished, or as it is when ``timeout`` seconds have passed.

        Waits on the commit that finishes it rather than polling the store.
        """
        row = self.store.get_instance(instance_id)
        if (row is not None and row.status in TERMINAL_STATUSES) or timeout <= 0:
            return row
        finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._finish_waiters.setdefault(instance_id, set())
        waiters.add(finished)
        try:
            await asyncio.wait([finished], timeout=timeout)
        finally:
            waiters.discard(finished)
            if not waiters and self._finish_waiters.get(instance_id) is waiters:
                del self._finish_waiters[instance_id]
        return self.store.get_instance(instance_id)

    def get(self, instance_id: str) -> InstanceRow:
        row = self.store.get_instance(instance_id)
        if row is None:
            raise InstanceNotFound(f"No instance with ID '{instance_id}' was found.")
        return row

    def history_events(self, instance_id: str) -> list[str]:
        return list(self._load_history(instance_id))

    def raise_event(self, instance_id: str, name: str, input_text: str | None) -> None:
        """Queue an EventRaised; ``input_text`` is stored verbatim as the event's Input."""
        row = self.get(instance_id)
        if row.status in TERMINAL_STATUSES:
            raise InstanceGone(f"The instance '{instance_id}' is in the {row.status} state; it takes no events.")
        event = h.event_raised(self._clock.now(), name, input_text)
        self.store.add_message(NewMessage(instance_id=instance_id, kind=MessageKind.EVENT, payload=event))
        self._wake.set()

    def control(self, instance_id: str, kind: MessageKind, reason: str | None) -> None:
        """Terminate, suspend or resume an instance (applied by its next episode)."""
        row = self.get(instance_id)
        if row.status in TERMINAL_STATUSES:
            raise InstanceGone(f"The instance '{instance_id}' is already in the {row.status} state.")
        self.store.add_message(NewMessage(instance_id=instance_id, kind=kind, payload=reason))
        self._wake.set()

    def purge(self, instance_id: str) -> int:
        deleted = self.store.purge(instance_id)
        self._forget(instance_id)
        return deleted

    def purge_matching(self, flt: InstanceFilter) -> int:
        ids = self.store.purge_matching(flt)
        for instance_id in ids:
            self._forget(instance_id)
        return len(ids)
