"""The usage log: tokens attributed to key, model alias, deployment and run, in SQLite.

Writing happens off the request path: records go into a bounded queue that a background task
flushes in batches through a worker thread. When the database falls behind, new records are
dropped and counted (``dropped`` in /v1/usage) instead of growing memory without bound.
Reads flush first, so a client that just got an answer sees it in the log.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from dataclasses import astuple, dataclass

from llm_gateway.schemas import GroupBy, UsageGroup, UsageList, UsageRecord, UsageTotals

__all__ = ["UsageEntry", "UsageLog"]

_BATCH = 500
_QUEUE_LIMIT = 20_000
_FLUSH_INTERVAL = 0.25
_INSERT = (
    "INSERT INTO usage_log (created, key, run_id, model, deployment, endpoint, stream, status, "
    "prompt_tokens, "
    "completion_tokens, estimated, latency_ms, cost_usd) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class UsageEntry:
    created: float
    key: str
    run_id: str | None
    model: str
    deployment: str
    endpoint: str
    stream: bool
    status: int
    prompt_tokens: int
    completion_tokens: int
    estimated: bool
    latency_ms: float
    cost_usd: float = 0.0


class UsageLog:
    def __init__(self, db: sqlite3.Connection, *, queue_limit: int = _QUEUE_LIMIT) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._pending: list[UsageEntry] = []
        self._queue_limit = queue_limit
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def add(self, entry: UsageEntry) -> None:
        """Queue a record (never blocks; drops and counts when the queue is full)."""
        if len(self._pending) >= self._queue_limit:
            self.dropped += 1
            return
        self._pending.append(entry)
        if len(self._pending) >= _BATCH:
            self._wake.set()

    def _write(self, batch: list[UsageEntry]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(_INSERT, [astuple(e) for e in batch])
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    async def flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:_BATCH], self._pending[_BATCH:]
            await asyncio.to_thread(self._write, batch)

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), _FLUSH_INTERVAL)
            except TimeoutError:
                pass
            self._wake.clear()
            await self.flush()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="usage-log-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.flush()

    def _read(
        self,
        *,
        key: str | None,
        run_id: str | None,
        since: float | None,
        limit: int,
        group_by: GroupBy | None,
    ) -> UsageList:
        where: list[str] = []
        params: list[str | float] = []
        for column, value in (("key", key), ("run_id", run_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("created >= ?")
            params.append(since)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            totals = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), "
                "COALESCE(SUM(cost_usd), 0) "
                f"FROM usage_log{clause}",
                params,
            ).fetchone()
            rows = self._db.execute(
                "SELECT id, created, key, run_id, model, deployment, endpoint, stream, status, "
                "prompt_tokens, "
                f"completion_tokens, estimated, latency_ms, cost_usd FROM usage_log{clause} ORDER BY id DESC LIMIT ?",
                [*params, limit],
            ).fetchall()
            grouped = (
                self._db.execute(
                    f"SELECT {group_by}, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd) "
                    f"FROM usage_log{clause} GROUP BY {group_by} "
                    "ORDER BY SUM(prompt_tokens) + SUM(completion_tokens) DESC",
                    params,
                ).fetchall()
                if group_by is not None
                else []
            )
        records = [
            UsageRecord(
                id=r[0],
                created=r[1],
                key=r[2],
                run_id=r[3],
                model=r[4],
                deployment=r[5],
                endpoint=r[6],
                stream=bool(r[7]),
                status=r[8],
                prompt_tokens=r[9],
                completion_tokens=r[10],
                total_tokens=r[9] + r[10],
                estimated=bool(r[11]),
                latency_ms=r[12],
                cost_usd=r[13],
            )
            for r in rows
        ]
        groups = [
            UsageGroup(
                value=g[0],
                requests=g[1],
                prompt_tokens=g[2],
                completion_tokens=g[3],
                total_tokens=g[2] + g[3],
                cost_usd=round(g[4], 6),
            )
            for g in grouped
        ]
        return UsageList(
            data=records,
            groups=groups if group_by is not None else None,
            dropped=self.dropped,
            totals=UsageTotals(
                requests=totals[0],
                prompt_tokens=totals[1],
                completion_tokens=totals[2],
                total_tokens=totals[1] + totals[2],
                cost_usd=round(totals[3], 6),
            ),
        )

    async def query(
        self,
        *,
        key: str | None = None,
        run_id: str | None = None,
        since: float | None = None,
        limit: int = 100,
        group_by: GroupBy | None = None,
    ) -> UsageList:
        await self.flush()
        return await asyncio.to_thread(self._read, key=key, run_id=run_id, since=since, limit=limit, group_by=group_by)
