"""The durable store: every SQL statement of the host, over one SQLite database in WAL mode.

Three queues live beside the instances and their history: ``messages`` (events waiting to be
delivered to an orchestration, timers included, visible from ``visible_at``), and
``activities`` (activity work items). An orchestration episode is committed in one
transaction (history appended, messages consumed, new work items, status), so a crash leaves
either all of an episode or none of it; an activity's result replaces its work item in one
transaction too. Work items still present at start are run again (at least once).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

__all__ = [
    "ActivityRow",
    "EpisodeCommit",
    "ExecutionState",
    "InstanceFilter",
    "InstanceRow",
    "MessageKind",
    "MessageRow",
    "NewActivity",
    "NewMessage",
    "RetryRecord",
    "RuntimeStatus",
    "Store",
    "TERMINAL_STATUSES",
]


class RuntimeStatus(StrEnum):
    """Runtime statuses, spelled as the management API reports them."""

    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETED = "Completed"
    CONTINUED_AS_NEW = "ContinuedAsNew"
    FAILED = "Failed"
    CANCELED = "Canceled"
    TERMINATED = "Terminated"
    SUSPENDED = "Suspended"


TERMINAL_STATUSES = frozenset(
    {RuntimeStatus.COMPLETED, RuntimeStatus.FAILED, RuntimeStatus.CANCELED, RuntimeStatus.TERMINATED}
)


class MessageKind(StrEnum):
    """What a queued message asks of its instance."""

    EVENT = "event"
    TERMINATE = "terminate"
    SUSPEND = "suspend"
    RESUME = "resume"


@dataclass(frozen=True, kw_only=True)
class RetryRecord:
    """Host-side state of one ``*_with_retry`` call (DTFx's RetryInterceptor, run by the host)."""

    kind: str  # "activity" or "sub"
    name: str
    input: str | None
    instance_id: str | None
    first_interval_ms: int
    max_attempts: int
    attempt: int
    waiting_on_timer: bool = False


@dataclass(frozen=True, kw_only=True)
class ExecutionState:
    """Bookkeeping of the current execution: the action cursor, the event id counter, retries."""

    cursor: int = 0
    next_id: int = 0
    retries: dict[int, RetryRecord] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "cursor": self.cursor,
                "next_id": self.next_id,
                "retries": {str(k): v.__dict__ for k, v in self.retries.items()},
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ExecutionState:
        data = json.loads(text)
        retries = {int(k): RetryRecord(**v) for k, v in data.get("retries", {}).items()}
        return cls(cursor=data["cursor"], next_id=data["next_id"], retries=retries)


@dataclass(frozen=True, kw_only=True)
class InstanceRow:
    """One orchestration instance (its current execution)."""

    instance_id: str
    name: str
    execution_id: str
    status: RuntimeStatus
    input: str | None
    output: str | None
    custom_status: str | None
    created_time: str
    last_updated_time: str
    parent: dict[str, Any] | None
    state: ExecutionState

    def evolve(self, **changes: Any) -> InstanceRow:
        return replace(self, **changes)

    @classmethod
    def new(
        cls,
        *,
        instance_id: str,
        name: str,
        input_json: str | None,
        created_time: str,
        parent: dict[str, Any] | None = None,
        execution_id: str | None = None,
    ) -> InstanceRow:
        """A Pending instance whose first execution has not started yet."""
        return cls(
            instance_id=instance_id,
            name=name,
            execution_id=execution_id or uuid.uuid4().hex,
            status=RuntimeStatus.PENDING,
            input=input_json,
            output=None,
            custom_status=None,
            created_time=created_time,
            last_updated_time=created_time,
            parent=parent,
            state=ExecutionState(),
        )


@dataclass(frozen=True, kw_only=True)
class MessageRow:
    id: int
    instance_id: str
    execution_id: str | None
    kind: MessageKind
    payload: Any
    visible_at: float


@dataclass(frozen=True, kw_only=True)
class NewMessage:
    instance_id: str
    kind: MessageKind
    payload: Any
    execution_id: str | None = None
    visible_at: float = 0.0


@dataclass(frozen=True, kw_only=True)
class ActivityRow:
    id: int
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


@dataclass(frozen=True, kw_only=True)
class NewActivity:
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


@dataclass(frozen=True, kw_only=True)
class EpisodeCommit:
    """Everything one orchestration episode changes, applied in one transaction."""

    instance: InstanceRow
    consumed_message_ids: Sequence[int] = ()
    history_append: Sequence[str] = ()
    """History events as JSON text, in their replayed form (``IsPlayed`` true)."""
    reset_history: bool = False
    drop_pending: bool = False
    new_messages: Sequence[NewMessage] = ()
    new_activities: Sequence[NewActivity] = ()
    new_instances: Sequence[InstanceRow] = ()


@dataclass(frozen=True, kw_only=True)
class InstanceFilter:
    """Filters of the list and purge endpoints; None means no constraint."""

    created_from: str | None = None
    created_to: str | None = None
    statuses: frozenset[RuntimeStatus] | None = None
    id_prefix: str | None = None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT,
    output TEXT,
    custom_status TEXT,
    created_time TEXT NOT NULL,
    last_updated_time TEXT NOT NULL,
    parent TEXT,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    instance_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT,
    kind TEXT NOT NULL,
    payload TEXT,
    visible_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_instance ON messages (instance_id, id);
CREATE INDEX IF NOT EXISTS messages_by_time ON messages (visible_at);
CREATE TABLE IF NOT EXISTS activities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    input TEXT
);
CREATE INDEX IF NOT EXISTS activities_by_instance ON activities (instance_id);
"""

_INSTANCE_COLUMNS = (
    "instance_id, name, execution_id, status, input, output, custom_status, "
    "created_time, last_updated_time, parent, state"
)


def _instance_from(row: sqlite3.Row) -> InstanceRow:
    return InstanceRow(
        instance_id=row[0],
        name=row[1],
        execution_id=row[2],
        status=RuntimeStatus(row[3]),
        input=row[4],
        output=row[5],
        custom_status=row[6],
        created_time=row[7],
        last_updated_time=row[8],
        parent=json.loads(row[9]) if row[9] else None,
        state=ExecutionState.from_json(row[10]),
    )


def _instance_params(row: InstanceRow) -> tuple[Any, ...]:
    return (
        row.instance_id,
        row.name,
        row.execution_id,
        str(row.status),
        row.input,
        row.output,
        row.custom_status,
        row.created_time,
        row.last_updated_time,
        json.dumps(row.parent) if row.parent is not None else None,
        row.state.to_json(),
    )


class Store:
    """All persistence of the host. Used from one thread (the event loop)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=OFF")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # ---- instances -------------------------------------------------------------------

    def get_instance(self, instance_id: str) -> InstanceRow | None:
        row = self._db.execute(
            f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE instance_id = ?", (instance_id,)
        ).fetchone()
        return _instance_from(row) if row else None

    def list_instances(
        self, flt: InstanceFilter, *, limit: int | None = None, after: tuple[str, str] | None = None
    ) -> list[InstanceRow]:
        """Matching instances by creation time then id; ``after`` is the (created_time,
        instance_id) of the previous page's last row, ``limit`` the page's size."""
        where, params = self._filter_sql(flt)
        if after is not None:
            where += (" AND " if where else "WHERE ") + "(created_time, instance_id) > (?, ?)"
            params.extend(after)
        page = f" LIMIT {int(limit)}" if limit is not None else ""
        rows = self._db.execute(
            f"SELECT {_INSTANCE_COLUMNS} FROM instances {where} ORDER BY created_time, instance_id{page}", params
        ).fetchall()
        return [_instance_from(r) for r in rows]

    @staticmethod
    def _filter_sql(flt: InstanceFilter) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if flt.created_from is not None:
            clauses.append("created_time >= ?")
            params.append(flt.created_from)
        if flt.created_to is not None:
            clauses.append("created_time <= ?")
            params.append(flt.created_to)
        if flt.statuses is not None:
            clauses.append(f"status IN ({','.join('?' * len(flt.statuses))})")
            params.extend(str(s) for s in sorted(flt.statuses))
        if flt.id_prefix:
            clauses.append("substr(instance_id, 1, ?) = ?")
            params.extend([len(flt.id_prefix), flt.id_prefix])
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), params

    def start_instance(self, row: InstanceRow, start: NewMessage, *, replace_existing: bool) -> None:
        """Create (or, for a finished instance, recreate) an instance and queue its start."""
        with self._transaction():
            if replace_existing:
                self._delete_instance(row.instance_id)
            self._db.execute(
                f"INSERT INTO instances ({_INSTANCE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                _instance_params(row),
            )
            self._insert_messages([start])

    def purge(self, instance_id: str) -> int:
        with self._transaction():
            return self._delete_instance(instance_id)

    def purge_matching(self, flt: InstanceFilter) -> list[str]:
        where, params = self._filter_sql(flt)
        with self._transaction():
            ids = [r[0] for r in self._db.execute(f"SELECT instance_id FROM instances {where}", params)]
            for instance_id in ids:
                self._delete_instance(instance_id)
        return ids

    def _delete_instance(self, instance_id: str) -> int:
        deleted = self._db.execute("DELETE FROM instances WHERE instance_id = ?", (instance_id,)).rowcount
        self._db.execute("DELETE FROM history WHERE instance_id = ?", (instance_id,))
        self._db.execute("DELETE FROM messages WHERE instance_id = ?", (instance_id,))
        self._db.execute("DELETE FROM activities WHERE instance_id = ?", (instance_id,))
        return int(deleted)

    # ---- history ---------------------------------------------------------------------

    def load_history(self, instance_id: str) -> list[str]:
        """The current execution's history, each event as JSON text with ``IsPlayed`` true."""
        rows = self._db.execute(
            "SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,)
        ).fetchall()
        return [str(r[0]) for r in rows]

    # ---- messages --------------------------------------------------------------------

    def add_message(self, message: NewMessage) -> None:
        with self._transaction():
            self._insert_messages([message])

    def _insert_messages(self, messages: Iterable[NewMessage]) -> None:
        self._db.executemany(
            "INSERT INTO messages (instance_id, execution_id, kind, payload, visible_at) VALUES (?,?,?,?,?)",
            [(m.instance_id, m.execution_id, str(m.kind), json.dumps(m.payload), m.visible_at) for m in messages],
        )

    def ready_instances(self, now: float, limit: int) -> list[str]:
        """Instances with a message to handle now (a suspended one only for control messages)."""
        rows = self._db.execute(
            "SELECT DISTINCT m.instance_id FROM messages m JOIN instances i ON i.instance_id = m.instance_id "
            "WHERE m.visible_at <= ? AND (i.status != 'Suspended' OR m.kind != 'event') LIMIT ?",
            (now, limit),
        ).fetchall()
        return [r[0] for r in rows]

    def next_due(self, now: float) -> float | None:
        """When the earliest future message (a timer) becomes visible."""
        row = self._db.execute(
            "SELECT MIN(m.visible_at) FROM messages m JOIN instances i ON i.instance_id = m.instance_id "
            "WHERE m.visible_at > ? AND i.status != 'Suspended'",
            (now,),
        ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def has_visible_messages(self, instance_id: str, now: float) -> bool:
        """Whether the instance has a message to handle now (cheaper than a scheduler pass)."""
        row = self._db.execute(
            "SELECT 1 FROM messages WHERE instance_id = ? AND visible_at <= ? LIMIT 1", (instance_id, now)
        ).fetchone()
        return row is not None

    def visible_messages(self, instance_id: str, now: float) -> list[MessageRow]:
        rows = self._db.execute(
            "SELECT id, instance_id, execution_id, kind, payload, visible_at FROM messages "
            "WHERE instance_id = ? AND visible_at <= ? ORDER BY id",
            (instance_id, now),
        ).fetchall()
        return [
            MessageRow(
                id=r[0],
                instance_id=r[1],
                execution_id=r[2],
                kind=MessageKind(r[3]),
                payload=json.loads(r[4]) if r[4] is not None else None,
                visible_at=r[5],
            )
            for r in rows
        ]

    # ---- activities ------------------------------------------------------------------

    def pending_activities(self, after_id: int, limit: int) -> list[ActivityRow]:
        rows = self._db.execute(
            "SELECT id, instance_id, execution_id, task_id, name, input FROM activities "
            "WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        ).fetchall()
        return [
            ActivityRow(id=r[0], instance_id=r[1], execution_id=r[2], task_id=r[3], name=r[4], input=r[5]) for r in rows
        ]

    def has_activities(self, instance_id: str) -> bool:
        """Whether the instance still has activity work items queued or running."""
        row = self._db.execute("SELECT 1 FROM activities WHERE instance_id = ? LIMIT 1", (instance_id,)).fetchone()
        return row is not None

    def finish_activity(self, activity_id: int, result: NewMessage) -> bool:
        """Replace a work item by its result message; False if the item was cancelled meanwhile."""
        with self._transaction():
            deleted = self._db.execute("DELETE FROM activities WHERE id = ?", (activity_id,)).rowcount
            if deleted:
                self._insert_messages([result])
        return bool(deleted)

    # ---- episodes --------------------------------------------------------------------

    def commit_episode(self, commit: EpisodeCommit) -> list[ActivityRow]:
        """Apply an episode in one transaction; returns its new activity work items, with their ids."""
        instance = commit.instance
        with self._transaction():
            if commit.consumed_message_ids:
                self._db.executemany("DELETE FROM messages WHERE id = ?", [(i,) for i in commit.consumed_message_ids])
            if commit.drop_pending:
                self._db.execute(
                    "DELETE FROM messages WHERE instance_id = ? AND kind = 'event'", (instance.instance_id,)
                )
                self._db.execute("DELETE FROM activities WHERE instance_id = ?", (instance.instance_id,))
            if commit.reset_history:
                self._db.execute("DELETE FROM history WHERE instance_id = ?", (instance.instance_id,))
            if commit.history_append:
                row = self._db.execute(
                    "SELECT COALESCE(MAX(seq), -1) FROM history WHERE instance_id = ?",
                    (instance.instance_id,),
                ).fetchone()
                start = int(row[0]) + 1
                self._db.executemany(
                    "INSERT INTO history (instance_id, seq, event) VALUES (?,?,?)",
                    [(instance.instance_id, start + n, text) for n, text in enumerate(commit.history_append)],
                )
            self._db.execute(
                f"INSERT OR REPLACE INTO instances ({_INSTANCE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                _instance_params(instance),
            )
            for child in commit.new_instances:
                self._delete_instance(child.instance_id)
                self._db.execute(
                    f"INSERT INTO instances ({_INSTANCE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    _instance_params(child),
                )
            self._insert_messages(commit.new_messages)
            return [self._insert_activity(a) for a in commit.new_activities]

    def _insert_activity(self, activity: NewActivity) -> ActivityRow:
        cursor = self._db.execute(
            "INSERT INTO activities (instance_id, execution_id, task_id, name, input) VALUES (?,?,?,?,?)",
            (activity.instance_id, activity.execution_id, activity.task_id, activity.name, activity.input),
        )
        assert cursor.lastrowid is not None
        return ActivityRow(id=cursor.lastrowid, **vars(activity))

    # ---- plumbing --------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error; the unit of durability."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")
