"""The embedded event channel: one SQLite file, shared by every process on the machine that opens it.

Statements run on the event loop's thread through a connection that never waits for a lock
(they take microseconds); one that finds the file locked by another process runs again on the
channel's own thread, which waits, and so do WAL checkpoints (they sync the file). Appends are
written in groups: the appends made in one turn of the event loop (from any run) go together in
one transaction, and while a transaction waits on the thread, further appends queue up for the
next one. A token's append writes its event's row and nothing else: a run's last id is read
from its events, and the time its stream was last written (for the age limit) is refreshed at
most every ``TOUCH_EVERY_SECONDS``.
Events appended here are handed straight to this process's watchers (``Fanout.deliver``);
appends from other processes (activity workers, a second app process) are noticed by a poller
thread that checks ``PRAGMA data_version`` every ``POLL_SECONDS`` while anyone waits, and wakes
only the readers of runs whose stream grew past what they have.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .channel import ChannelUnavailable, EventChannel, Keyed, StoredEvent

if TYPE_CHECKING:
    from .fanout import RunFeed

__all__ = ["SqliteChannel"]

POLL_SECONDS = 0.05
TRIM_EVERY = 64
"""Appends to a run between two trims of its oldest events."""
EXPIRE_EVERY_SECONDS = 60.0
CHECKPOINT_EVERY = 500
"""Statements on the event loop's connection between two WAL checkpoints on the channel's thread."""
TOUCH_EVERY_SECONDS = 60.0
"""How often a stream that keeps growing has its last-written time refreshed (at most a tenth of
the age limit): updating it on every append would write a second row per token."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS run_events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    key TEXT,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS run_events_by_key ON run_events (run_id, key) WHERE key IS NOT NULL;
CREATE TABLE IF NOT EXISTS run_streams (
    run_id TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    updated REAL NOT NULL
);
"""

T = TypeVar("T")
_Encoded = list[tuple[str | None, str]]


@dataclass(eq=False)
class _Waiter:
    """A reader waiting for a run's stream to grow past ``after()``.

    ``local`` readers are also woken by this channel's own appends; a feed's reader is not (it
    is handed those events directly) and ``after`` follows the feed as it fills.
    """

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    after: Callable[[], int]
    local: bool


@dataclass(eq=False)
class _Pending:
    """An append waiting for the next group transaction."""

    run_id: str
    events: _Encoded
    done: asyncio.Future[list[int]] = field(repr=False)


class SqliteChannel(EventChannel):
    def __init__(self, path: Path, *, max_events: int, max_age_seconds: int) -> None:
        self._path = path
        self._max_events = max_events
        self._max_age = max_age_seconds
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-events")
        self._db: sqlite3.Connection | None = None
        self._quick: sqlite3.Connection | None = None
        self._quick_commits = 0
        self._waiters: dict[str, list[_Waiter]] = {}
        self._lock = threading.Lock()
        self._poller: threading.Thread | None = None
        self._closed = False
        self._last_expiry = 0.0
        self._touch_every = min(TOUCH_EVERY_SECONDS, max_age_seconds / 10)
        self._touched: dict[str, float] = {}  # run: when this process last wrote its stream's time
        self._queue: list[_Pending] = []
        self._flush_planned = False
        self._writer: asyncio.Task[None] | None = None

    # -- the database thread ----------------------------------------------------------------

    def _open(self, *, patient: bool) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(
            self._path, timeout=30.0 if patient else 0.0, isolation_level=None, check_same_thread=False
        )
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        if not patient:
            db.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints (which sync the file) run on the thread
        db.executescript(_SCHEMA)
        return db

    def _patient(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._open(patient=True)
        return self._db

    def _quick_call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work`` on the event loop's own connection, which never waits for a lock: a statement
        takes tens of microseconds, much less than handing it to a thread and back. ``_Busy`` when
        another process holds the write lock."""
        try:
            if self._quick is None:
                self._quick = self._open(patient=False)
            result = work(self._quick)
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise _Busy from None
            raise ChannelUnavailable(f"the event file {self._path} cannot be used: {exc}") from exc
        except sqlite3.Error as exc:
            raise ChannelUnavailable(f"the event file {self._path} cannot be used: {exc}") from exc
        self._quick_commits += 1
        if self._quick_commits % CHECKPOINT_EVERY == 0:
            asyncio.get_running_loop().run_in_executor(self._executor, self._checkpoint)
        return result

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work`` on the event loop's own connection; when another process holds the write lock,
        it runs again on the channel's thread, which waits."""
        try:
            return self._quick_call(work)
        except _Busy:
            pass

        def call() -> T:
            return work(self._patient())

        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, call)
        except sqlite3.Error as exc:
            raise ChannelUnavailable(f"the event file {self._path} cannot be used: {exc}") from exc

    def _checkpoint(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._patient().execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _append_all(self, db: sqlite3.Connection, batch: list[_Pending]) -> list[list[StoredEvent]]:
        """Every pending append in one transaction; the events each one added, with their ids."""
        now = _now()
        lasts: dict[str, tuple[int, int]] = {}  # run: (last id before the batch, last id now)
        given_all: list[list[StoredEvent]] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for pending in batch:
                run_id = pending.run_id
                if run_id not in lasts:
                    row = db.execute("SELECT MAX(seq) FROM run_events WHERE run_id = ?", (run_id,)).fetchone()
                    start = int(row[0]) if row and row[0] is not None else 0
                    lasts[run_id] = (start, start)
                start, last = lasts[run_id]
                given: list[StoredEvent] = []
                for key, data in pending.events:
                    if (
                        key is not None
                        and db.execute(
                            "SELECT 1 FROM run_events WHERE run_id = ? AND key = ?", (run_id, key)
                        ).fetchone()
                    ):
                        continue
                    last += 1
                    db.execute(
                        "INSERT INTO run_events (run_id, seq, key, data) VALUES (?, ?, ?, ?)",
                        (run_id, last, key, data),
                    )
                    given.append(StoredEvent(id=last, data=data))
                lasts[run_id] = (start, last)
                given_all.append(given)
            touched: list[str] = []
            for run_id, (start, last) in lasts.items():
                if last == start:
                    continue
                # A new stream gets its row at once; a growing one when its time is due again.
                if start == 0 or now - self._touched.get(run_id, 0.0) >= self._touch_every:
                    db.execute(
                        "INSERT INTO run_streams (run_id, last_seq, updated) VALUES (?, ?, ?) ON CONFLICT "
                        "(run_id) DO UPDATE SET last_seq = excluded.last_seq, updated = excluded.updated",
                        (run_id, last, now),
                    )
                    touched.append(run_id)
                if last // TRIM_EVERY != start // TRIM_EVERY and last > self._max_events:
                    oldest_kept = last - self._max_events
                    db.execute("DELETE FROM run_events WHERE run_id = ? AND seq <= ?", (run_id, oldest_kept))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._touched.update(dict.fromkeys(touched, now))
        if now - self._last_expiry > EXPIRE_EVERY_SECONDS:
            self._last_expiry = now
            self._touched = {run_id: at for run_id, at in self._touched.items() if now - at < self._touch_every}
            # A stream's time may be up to ``_touch_every`` older than its last event: it is kept
            # that much longer rather than removed early.
            self._expire(db, now - self._max_age - self._touch_every)
        return given_all

    def _expire(self, db: sqlite3.Connection, before: float) -> None:
        old = [r[0] for r in db.execute("SELECT run_id FROM run_streams WHERE updated < ?", (before,))]
        for run_id in old:
            self._delete(db, run_id)

    @staticmethod
    def _delete(db: sqlite3.Connection, run_id: str) -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute("DELETE FROM run_events WHERE run_id = ?", (run_id,))
        db.execute("DELETE FROM run_streams WHERE run_id = ?", (run_id,))
        db.execute("COMMIT")

    def _flush(self) -> None:
        """Write the appends of the loop's last turn in one transaction on the loop's connection.

        When another process holds the write lock, a writer task waits for it on the channel's
        thread; appends made meanwhile queue up behind it and it writes them too.
        """
        self._flush_planned = False
        if not self._queue or (self._writer is not None and not self._writer.done()):
            return
        batch, self._queue = self._queue, []
        try:
            given_all = self._quick_call(lambda db: self._append_all(db, batch))
        except _Busy:
            self._queue[:0] = batch
            self._writer = asyncio.get_running_loop().create_task(self._write_queued())
            return
        except Exception as exc:
            _fail(batch, exc)
            return
        self._hand_over(batch, given_all)

    async def _write_queued(self) -> None:
        """Write what is queued, group by group, until the queue is empty."""
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                given_all = await self._run(lambda db: self._append_all(db, batch))  # noqa: B023
            except BaseException as exc:
                _fail(batch, exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            self._hand_over(batch, given_all)

    def _hand_over(self, batch: list[_Pending], given_all: list[list[StoredEvent]]) -> None:
        for pending, added in zip(batch, given_all, strict=True):
            if added:
                self._published(pending.run_id, added)
            if not pending.done.done():
                pending.done.set_result([event.id for event in added])

    def _published(self, run_id: str, added: list[StoredEvent]) -> None:
        """Hand fresh events to this process's watchers: the run's feed and any local waiter."""
        if self._fanout is not None:
            self._fanout.deliver(run_id, added)
        self._wake(run_id, added[-1].id, own=True)

    # -- the interface ---------------------------------------------------------------------

    async def append(self, run_id: str, events: list[Keyed]) -> list[int]:
        import orjson

        encoded = [(key, orjson.dumps(event).decode()) for key, event in events]
        loop = asyncio.get_running_loop()
        pending = _Pending(run_id, encoded, loop.create_future())
        self._queue.append(pending)
        if not self._flush_planned:
            self._flush_planned = True
            loop.call_soon(self._flush)
        return await pending.done

    async def read(self, run_id: str, after: int, limit: int = 500) -> list[StoredEvent]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT seq, data FROM run_events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (run_id, after, limit),
            ).fetchall()
        )
        return [StoredEvent(id=int(seq), data=str(data)) for seq, data in rows]

    async def wait(self, run_id: str, after: int, timeout: float, limit: int = 500) -> list[StoredEvent]:
        return await self._wait(run_id, lambda: after, timeout, local=True, limit=limit)

    async def follow(self, run_id: str, feed: RunFeed, timeout: float) -> list[StoredEvent]:
        return await self._wait(run_id, lambda: feed.last, timeout, local=False)

    async def _wait(
        self, run_id: str, after: Callable[[], int], timeout: float, *, local: bool, limit: int = 500
    ) -> list[StoredEvent]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            waiter = _Waiter(loop, loop.create_future(), after, local)
            self._add_waiter(run_id, waiter)
            try:
                found = await self.read(run_id, after(), limit)
                if found:
                    return found
                left = deadline - loop.time()
                if left <= 0:
                    return []
                try:
                    await asyncio.wait_for(waiter.future, left)
                except TimeoutError:
                    return await self.read(run_id, after(), limit)
            finally:
                self._remove_waiter(run_id, waiter)

    async def first_id(self, run_id: str) -> int | None:
        row = await self._run(
            lambda db: db.execute("SELECT MIN(seq) FROM run_events WHERE run_id = ?", (run_id,)).fetchone()
        )
        return int(row[0]) if row and row[0] is not None else None

    async def has_key(self, run_id: str, key: str) -> bool:
        row = await self._run(
            lambda db: db.execute("SELECT 1 FROM run_events WHERE run_id = ? AND key = ?", (run_id, key)).fetchone()
        )
        return row is not None

    async def delete(self, run_id: str) -> None:
        await self._run(lambda db: self._delete(db, run_id))
        self._touched.pop(run_id, None)

    async def close(self) -> None:
        self._closed = True
        if self._fanout is not None:
            self._fanout.close()
        self._flush()  # appends still waiting for their turn of the loop
        if self._writer is not None and not self._writer.done():
            await asyncio.wait([self._writer], timeout=5)
        quick, self._quick = self._quick, None
        if quick is not None:
            quick.close()
        db, self._db = self._db, None
        if db is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, db.close)
        self._executor.shutdown(wait=False)

    # -- waking readers --------------------------------------------------------------------

    def _add_waiter(self, run_id: str, waiter: _Waiter) -> None:
        with self._lock:
            self._waiters.setdefault(run_id, []).append(waiter)
            if self._poller is None or not self._poller.is_alive():
                self._poller = threading.Thread(target=self._poll, name="run-events-poller", daemon=True)
                self._poller.start()

    def _remove_waiter(self, run_id: str, waiter: _Waiter) -> None:
        with self._lock:
            waiting = self._waiters.get(run_id)
            if waiting and waiter in waiting:
                waiting.remove(waiter)
                if not waiting:
                    del self._waiters[run_id]

    def _wake(self, run_id: str, last: int, *, own: bool) -> None:
        """Wake the readers of ``run_id`` that have not seen ``last`` (for ``own`` appends: local ones)."""
        with self._lock:
            waking = [w for w in self._waiters.get(run_id, ()) if (w.local or not own) and w.after() < last]
        for waiter in waking:
            if own:
                _resolve(waiter.future)
            else:
                waiter.loop.call_soon_threadsafe(_resolve, waiter.future)

    def _poll(self) -> None:
        """Notice appends made through other connections (other processes) and wake their readers."""
        db = sqlite3.connect(self._path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            version = None
            while not self._closed:
                with self._lock:
                    watched = list(self._waiters)
                    if not watched:
                        self._poller = None  # under the lock: the next reader starts a new poller
                        break
                try:
                    now = db.execute("PRAGMA data_version").fetchone()[0]
                    if now != version:
                        version = now
                        # One index seek per run for its last id (a GROUP BY would scan every event).
                        marks = ",".join(["(?)"] * len(watched))
                        rows = db.execute(
                            "SELECT w.column1, (SELECT MAX(seq) FROM run_events WHERE run_id = w.column1) "
                            f"FROM (VALUES {marks}) AS w",
                            watched,
                        ).fetchall()
                        for run_id, last in rows:
                            if last is not None:
                                self._wake(run_id, int(last), own=False)
                except sqlite3.Error:
                    pass  # the next tick tries again; readers also wake on their own timeouts
                time.sleep(POLL_SECONDS)
        finally:
            db.close()


def _now() -> float:
    """The wall clock a stream's age is measured by."""
    return time.time()


class _Busy(Exception):
    """Another process holds the file's write lock."""


def _fail(batch: list[_Pending], exc: BaseException) -> None:
    failure = exc if isinstance(exc, ChannelUnavailable) else ChannelUnavailable(str(exc))
    for pending in batch:
        if not pending.done.done():
            pending.done.set_exception(failure)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
