"""Each run's conversation, in full, outside its history: people's messages and the agent's.

A run's history keeps only the recent messages and a summary (it continues as new with them),
so the whole transcript lives here, where the run API reads it page by page. People's messages
are written by the API before the run hears of them (status ``pending``); the run's activities
mark them ``taken`` with what the run did about them, and add the agent's own messages. A
message still pending when the run starts an execution is taken then, so a message whose event
was dropped (a continue-as-new between the write and the event) is never lost.

A turn a person aborted is recorded here too: the activities of that turn check it, so an
aborted model step or tool call stops even where the orchestrator cannot reach it.

One SQLite file (``TOOLMESH_CONVERSATION_DB``) shared by the app's processes, in WAL mode.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .settings import get_settings

__all__ = ["ConversationStore", "StoredMessage", "TooManyPending", "conversation_store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    role TEXT NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    at TEXT NOT NULL,
    status TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT 'message',
    taken_at TEXT,
    PRIMARY KEY (run_id, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_id ON messages (run_id, id);
CREATE INDEX IF NOT EXISTS messages_pending ON messages (run_id, status);
CREATE TABLE IF NOT EXISTS aborted_turns (
    run_id TEXT NOT NULL,
    turn TEXT NOT NULL,
    author TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (run_id, turn)
);
"""


class TooManyPending(Exception):
    """The run has as many messages waiting to be taken as it may; the sender should retry later."""


@dataclass(frozen=True, kw_only=True)
class StoredMessage:
    """One line of the conversation as the API shows it."""

    seq: int
    id: str
    role: str
    """``person`` or ``agent``."""
    author: str
    text: str
    at: str
    status: str
    """A person's message: ``pending`` until the run takes it, then ``taken``; the agent's: ``sent``."""
    outcome: str
    """What the run did about a person's message (a task added, an answer, a stop...)."""
    kind: str
    """``message``, or for the agent ``reply``, ``question`` or ``turn``."""
    taken_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> str:
    return datetime.now(UTC).isoformat()


class ConversationStore:
    """The transcript table of every run, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._ready = False
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            with self._lock:
                if not self._ready:
                    db.executescript(_SCHEMA)
                    self._ready = True
            self._local.db = db
        return db

    def add_person_message(
        self, run_id: str, message_id: str, author: str, text: str, max_pending: int
    ) -> StoredMessage:
        """Append a person's message as pending; TooManyPending when ``max_pending`` already wait."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            (pending,) = db.execute(
                "SELECT COUNT(*) FROM messages WHERE run_id = ? AND status = 'pending'", (run_id,)
            ).fetchone()
            if pending >= max_pending:
                raise TooManyPending(f"{pending} messages already wait to be taken")
            seq = self._next_seq(db, run_id)
            at = _now()
            db.execute(
                "INSERT INTO messages (run_id, seq, id, role, author, text, at, status) "
                "VALUES (?, ?, ?, 'person', ?, ?, ?, 'pending')",
                (run_id, seq, message_id, author, text, at),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return StoredMessage(
            seq=seq, id=message_id, role="person", author=author, text=text, at=at, status="pending",
            outcome="", kind="message", taken_at=None,
        )  # fmt: skip

    def withdraw(self, run_id: str, message_id: str, why: str) -> None:
        """A message that never reached its run (it ended meanwhile) is kept, marked as refused."""
        self._db().execute(
            "UPDATE messages SET status = 'refused', outcome = ? WHERE run_id = ? AND id = ? AND status = 'pending'",
            (why, run_id, message_id),
        )

    @staticmethod
    def _next_seq(db: sqlite3.Connection, run_id: str) -> int:
        (last,) = db.execute("SELECT COALESCE(MAX(seq), 0) FROM messages WHERE run_id = ?", (run_id,)).fetchone()
        return int(last) + 1

    def record(self, run_id: str, taken: list[dict[str, Any]], said: list[dict[str, Any]]) -> None:
        """Mark people's messages taken (id, outcome) and append the agent's (id, text, kind), once each."""
        db = self._db()
        now = _now()
        db.execute("BEGIN IMMEDIATE")
        try:
            for item in taken:
                db.execute(
                    "UPDATE messages SET status = 'taken', outcome = ?, taken_at = COALESCE(taken_at, ?) "
                    "WHERE run_id = ? AND id = ? AND role = 'person'",
                    (str(item.get("outcome") or ""), now, run_id, str(item["id"])),
                )
            for item in said:
                exists = db.execute(
                    "SELECT 1 FROM messages WHERE run_id = ? AND id = ?", (run_id, str(item["id"]))
                ).fetchone()
                if exists:
                    continue  # a retried activity: the message is already there
                db.execute(
                    "INSERT INTO messages (run_id, seq, id, role, author, text, at, status, kind) "
                    "VALUES (?, ?, ?, 'agent', ?, ?, ?, 'sent', ?)",
                    (
                        run_id,
                        self._next_seq(db, run_id),
                        str(item["id"]),
                        str(item.get("author") or "agent"),
                        str(item["text"]),
                        str(item.get("at") or now),
                        str(item.get("kind") or "reply"),
                    ),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def pending(self, run_id: str, limit: int) -> list[StoredMessage]:
        """People's messages the run has not taken yet, oldest first."""
        return self._select("WHERE run_id = ? AND status = 'pending' ORDER BY seq LIMIT ?", (run_id, limit))

    def page(self, run_id: str, after: int, limit: int) -> list[StoredMessage]:
        """Messages after sequence number ``after``, in order."""
        return self._select("WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?", (run_id, after, limit))

    def _select(self, where: str, args: tuple[Any, ...]) -> list[StoredMessage]:
        rows = (
            self._db()
            .execute(
                f"SELECT seq, id, role, author, text, at, status, outcome, kind, taken_at FROM messages {where}", args
            )
            .fetchall()
        )
        return [
            StoredMessage(
                seq=r[0],
                id=r[1],
                role=r[2],
                author=r[3],
                text=r[4],
                at=r[5],
                status=r[6],
                outcome=r[7],
                kind=r[8],
                taken_at=r[9],
            )  # fmt: skip
            for r in rows
        ]

    def abort_turn(self, run_id: str, turn: str, author: str) -> None:
        self._db().execute(
            "INSERT OR IGNORE INTO aborted_turns (run_id, turn, author, at) VALUES (?, ?, ?, ?)",
            (run_id, turn, author, _now()),
        )

    def turn_aborted(self, run_id: str, turn: str) -> bool:
        found = (
            self._db().execute("SELECT 1 FROM aborted_turns WHERE run_id = ? AND turn = ?", (run_id, turn)).fetchone()
        )
        return found is not None


_stores: dict[Path, ConversationStore] = {}
_stores_lock = threading.Lock()


def conversation_store() -> ConversationStore:
    """The store at the configured path (one per path and process)."""
    path = get_settings().conversation_db
    with _stores_lock:
        store = _stores.get(path)
        if store is None:
            store = _stores[path] = ConversationStore(path)
        return store
