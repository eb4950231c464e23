"""The embedded event channel: one SQLite file, shared by every process on the machine that opens it.

All statements of one channel run on its own thread (SQLite calls block). A watcher in the
process that appended is woken at once; appends from other processes (activity workers, a
second app process) are noticed by a poller thread that checks ``PRAGMA data_version`` every
``POLL_SECONDS`` while anyone waits, then wakes only the watchers of runs whose stream grew.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from .channel import ChannelUnavailable, EventChannel, Keyed, StoredEvent

__all__ = ["SqliteChannel"]

POLL_SECONDS = 0.05
TRIM_EVERY = 64
"""Appends to a run between two trims of its oldest events."""
EXPIRE_EVERY_SECONDS = 60.0

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
_Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class SqliteChannel(EventChannel):
    def __init__(self, path: Path, *, max_events: int, max_age_seconds: int) -> None:
        self._path = path
        self._max_events = max_events
        self._max_age = max_age_seconds
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-events")
        self._db: sqlite3.Connection | None = None
        self._waiters: dict[str, list[_Waiter]] = {}
        self._known: dict[str, int] = {}
        self._lock = threading.Lock()
        self._poller: threading.Thread | None = None
        self._closed = False
        self._last_expiry = 0.0

    # -- the database thread ----------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self._path, timeout=30.0, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            self._db = db
        return self._db

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            return work(self._connect())

        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, call)
        except sqlite3.Error as exc:
            raise ChannelUnavailable(f"the event file {self._path} cannot be used: {exc}") from exc

    def _append(self, db: sqlite3.Connection, run_id: str, events: list[tuple[str | None, str]]) -> list[int]:
        now = time.time()
        given: list[int] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT last_seq FROM run_streams WHERE run_id = ?", (run_id,)).fetchone()
            last = int(row[0]) if row else 0
            for key, data in events:
                if key is not None and db.execute(
                    "SELECT 1 FROM run_events WHERE run_id = ? AND key = ?", (run_id, key)
                ).fetchone():
                    continue
                last += 1
                db.execute(
                    "INSERT INTO run_events (run_id, seq, key, data) VALUES (?, ?, ?, ?)", (run_id, last, key, data)
                )
                given.append(last)
            if given:
                db.execute(
                    "INSERT INTO run_streams (run_id, last_seq, updated) VALUES (?, ?, ?) "
                    "ON CONFLICT (run_id) DO UPDATE SET last_seq = excluded.last_seq, updated = excluded.updated",
                    (run_id, last, now),
                )
                if last // TRIM_EVERY != (last - len(given)) // TRIM_EVERY and last > self._max_events:
                    oldest_kept = last - self._max_events
                    db.execute("DELETE FROM run_events WHERE run_id = ? AND seq <= ?", (run_id, oldest_kept))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if now - self._last_expiry > EXPIRE_EVERY_SECONDS:
            self._last_expiry = now
            self._expire(db, now - self._max_age)
        return given

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

    # -- the interface ---------------------------------------------------------------------

    async def append(self, run_id: str, events: list[Keyed]) -> list[int]:
        import orjson

        encoded = [(key, orjson.dumps(event).decode()) for key, event in events]
        given = await self._run(lambda db: self._append(db, run_id, encoded))
        if given:
            self._wake(run_id, given[-1])
        return given

    async def read(self, run_id: str, after: int, limit: int = 500) -> list[StoredEvent]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT seq, data FROM run_events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (run_id, after, limit),
            ).fetchall()
        )
        return [StoredEvent(id=int(seq), data=str(data)) for seq, data in rows]

    async def wait(self, run_id: str, after: int, timeout: float, limit: int = 500) -> list[StoredEvent]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            future: asyncio.Future[None] = loop.create_future()
            self._add_waiter(run_id, (loop, future))
            try:
                found = await self.read(run_id, after, limit)
                if found:
                    return found
                left = deadline - loop.time()
                if left <= 0:
                    return []
                try:
                    await asyncio.wait_for(future, left)
                except TimeoutError:
                    return await self.read(run_id, after, limit)
            finally:
                self._remove_waiter(run_id, (loop, future))

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

    async def close(self) -> None:
        self._closed = True
        db, self._db = self._db, None
        if db is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, db.close)
        self._executor.shutdown(wait=False)

    # -- waking watchers -------------------------------------------------------------------

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
                    self._known.pop(run_id, None)

    def _wake(self, run_id: str, last: int) -> None:
        with self._lock:
            self._known[run_id] = max(last, self._known.get(run_id, 0))
            waiting = list(self._waiters.get(run_id, ()))
        for loop, future in waiting:
            loop.call_soon_threadsafe(_resolve, future)

    def _poll(self) -> None:
        """Notice appends made through other connections (other processes) and wake their watchers."""
        db = sqlite3.connect(self._path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            version = None
            while not self._closed:
                with self._lock:
                    watched = list(self._waiters)
                    if not watched:
                        self._poller = None  # under the lock: the next watcher starts a new poller
                        break
                try:
                    now = db.execute("PRAGMA data_version").fetchone()[0]
                    if now != version:
                        version = now
                        marks = ",".join("?" * len(watched))
                        rows = db.execute(
                            f"SELECT run_id, last_seq FROM run_streams WHERE run_id IN ({marks})", watched
                        ).fetchall()
                        for run_id, last in rows:
                            if int(last) > self._known.get(run_id, 0):
                                self._wake(run_id, int(last))
                except sqlite3.Error:
                    pass  # the next tick tries again; watchers also wake on their own timeouts
                time.sleep(POLL_SECONDS)
        finally:
            db.close()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
