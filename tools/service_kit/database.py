"""One SQLite connection per process, shared by the stores behind a lock.

SQLite serialises writers anyway; one connection with a lock keeps transactions short
and explicit, and WAL mode lets a restarted process pick up exactly what was committed
before a crash.

Async code hands its database work to ``call``: one thread owns the connection for it
and runs whatever jobs are waiting as one batch, each job in its own savepoint of a
single transaction (a group commit). The event loop never waits for SQLite or for the
lock, and under load one wake-up, one commit and one hand-back serve many requests
instead of one each. A job's result is handed back only after the batch has committed,
so an answer never reports work that a crash could still lose. Synchronous code (tests,
routes run in the thread pool) keeps using ``transaction()``; the lock orders the two.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

__all__ = ["Database"]

P = ParamSpec("P")
T = TypeVar("T")

MAX_BATCH = 64
"""Most jobs committed together: bounds how long one batch holds the lock."""


@dataclass(kw_only=True)
class _Job:
    """A call waiting for the database thread, and where its outcome goes."""

    run: Callable[[], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    value: Any = None
    error: BaseException | None = field(default=None)


class Database:
    """A locked SQLite connection with ``transaction()`` for threads and ``call`` for coroutines."""

    def __init__(self, path: Path) -> None:
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._start = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("PRAGMA busy_timeout=5000")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and one IMMEDIATE transaction; commit on success, roll back on error.

        Inside a transaction already held by this thread it is a savepoint instead, so a
        failure undoes only its own part.
        """
        with self._lock:
            nested = self._conn.in_transaction
            self._conn.execute("SAVEPOINT job" if nested else "BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                if nested and self._conn.in_transaction:
                    self._conn.execute("ROLLBACK TO job")
                    self._conn.execute("RELEASE job")
                elif self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("RELEASE job" if nested else "COMMIT")

    async def call(self, function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``function(*args, **kwargs)`` on the database thread, in a transaction, and await it."""
        loop = asyncio.get_running_loop()
        job = _Job(run=lambda: function(*args, **kwargs), future=loop.create_future(), loop=loop)
        if self._worker is None:
            self._start_worker()
        self._jobs.put(job)
        result: T = await job.future
        return result

    def executescript(self, script: str) -> None:
        with self._lock:
            self._conn.executescript(script)

    def keep_request_claims(self, table: str) -> None:
        """Give ``table`` a unique ``request_claim`` column (added to a database made before it).

        A route that creates a row stores its request's Idempotency-Key claim there, in the
        same transaction, so a retry after a crash finds the row instead of making another.
        """
        with self.transaction() as conn:
            columns = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
            if "request_claim" not in columns:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN request_claim TEXT")
            conn.execute(
                f"CREATE UNIQUE INDEX IF NOT EXISTS {table}_by_request_claim ON {table} (request_claim)"
                " WHERE request_claim IS NOT NULL"
            )

    def claimed_row(self, conn: sqlite3.Connection, table: str, claim: str | None, column: str) -> Any:
        """``column`` of the row of ``table`` a request with ``claim`` made already, or None."""
        if claim is None:
            return None
        row = conn.execute(f"SELECT {column} FROM {table} WHERE request_claim = ?", (claim,)).fetchone()
        return None if row is None else row[0]

    def close(self) -> None:
        """Finish the jobs already handed over, then close the connection."""
        if self._worker is not None:
            self._jobs.put(None)
            self._worker.join()
        with self._lock:
            self._conn.close()

    def _start_worker(self) -> None:
        with self._start:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="database", daemon=True)
                self._worker.start()

    def _work(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                batch.append(job)
            self._run_batch(batch)
            if stop:
                return

    def _run_batch(self, batch: list[_Job]) -> None:
        """Run every job in one transaction, each in a savepoint; hand the outcomes back."""
        committed: list[_Job] = []
        with self._lock:
            for job in batch:
                try:
                    if not self._conn.in_transaction:
                        self._conn.execute("BEGIN IMMEDIATE")
                    with self.transaction():
                        job.value = job.run()
                except Exception as exc:  # the job's own failure, handed to its caller
                    job.error = exc if not isinstance(exc, StopIteration) else RuntimeError(repr(exc))
                    if not self._conn.in_transaction:
                        # SQLite rolled the whole transaction back (disk full, I/O error):
                        # the jobs before this one lost their work too.
                        for earlier in committed:
                            earlier.error = exc
                        committed.clear()
                    continue
                committed.append(job)
            if self._conn.in_transaction:
                try:
                    self._conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    for job in committed:
                        job.error = exc
        loops = {id(job.loop): job.loop for job in batch}
        for loop in loops.values():
            mine = [job for job in batch if job.loop is loop]
            try:
                loop.call_soon_threadsafe(_deliver, mine)
            except RuntimeError:
                pass  # that event loop is closed: nobody is waiting any more


def _deliver(jobs: list[_Job]) -> None:
    """On the caller's loop: settle each job's future (unless its caller gave up)."""
    for job in jobs:
        if job.future.done():
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.value)
