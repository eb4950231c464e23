"""Messages and their reply deliveries in SQLite.

A reply and the delivery that carries it to the callback are written in one
transaction, so a reply is never stored without its delivery being queued. The
delivery row holds the exact payload and the time of the next attempt, which is all
the worker needs to continue after a restart.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from tools.service_kit.database import Database

from .errors import AlreadyReplied, MessageNotFound

__all__ = ["DeliveryRecord", "DeliveryState", "MessageRecord", "MessageStore"]

DeliveryState = Literal["pending", "delivered", "failed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    callback_url TEXT,
    run_id TEXT,
    created_at TEXT NOT NULL,
    reply TEXT,
    reply_from TEXT,
    replied_at TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_recipient ON messages (recipient, seq);
CREATE INDEX IF NOT EXISTS messages_by_run ON messages (run_id, seq);
CREATE TABLE IF NOT EXISTS deliveries (
    message_seq INTEGER PRIMARY KEY REFERENCES messages (seq),
    url TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    delivered_at TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_at);
"""


@dataclass(frozen=True, kw_only=True)
class DeliveryRecord:
    message_seq: int
    message_id: str
    url: str
    payload: str
    state: DeliveryState
    attempts: int
    next_attempt_at: float
    last_error: str | None
    delivered_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class MessageRecord:
    id: str
    to: str
    subject: str
    body: str
    callback_url: str | None
    created_at: datetime
    reply: str | None
    reply_from: str | None
    replied_at: datetime | None
    delivery: DeliveryRecord | None


Clock = Callable[[], float]
"""Wall time in seconds, as ``time.time`` gives it (queued deliveries outlive the process)."""


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _find(conn: sqlite3.Connection, message_id: str, scope: str | None) -> sqlite3.Row:
    """The message's row; MessageNotFound when there is none, or another run than ``scope`` sent it."""
    if scope is None:
        row = conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
    else:
        row = conn.execute("SELECT * FROM messages WHERE id = ? AND run_id = ?", (message_id, scope)).fetchone()
    if row is None:
        raise MessageNotFound(message_id)
    found: sqlite3.Row = row
    return found


def _delivery(row: sqlite3.Row) -> DeliveryRecord:
    return DeliveryRecord(
        message_seq=row["message_seq"],
        message_id=row["message_id"],
        url=row["url"],
        payload=row["payload"],
        state=row["state"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        delivered_at=_time(row["delivered_at"]),
    )


_DELIVERY_COLUMNS = "d.*, m.id AS message_id"


class MessageStore:
    """Messages to people, their replies, and the queue of reply deliveries."""

    def __init__(self, db: Database, *, clock: Clock = time.time) -> None:
        self._db = db
        self._clock = clock
        with db.transaction() as conn:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(messages)").fetchall()}
            if columns and "run_id" not in columns:  # a database from before messages had runs
                conn.execute("ALTER TABLE messages ADD COLUMN run_id TEXT")
        db.executescript(_SCHEMA)
        db.keep_request_claims("messages")

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def send(
        self,
        *,
        to: str,
        subject: str,
        body: str,
        callback_url: str | None,
        run_id: str | None = None,
        claim: str | None = None,
    ) -> MessageRecord:
        """A new message; with the ``claim`` of a request that already sent one, that message instead."""
        message_id = f"msg_{uuid.uuid4().hex[:16]}"
        with self._db.transaction() as conn:
            sent = self._db.claimed_row(conn, "messages", claim, "id")
            if sent is not None:
                return self._message(conn, _find(conn, sent, run_id))
            conn.execute(
                "INSERT INTO messages (id, recipient, subject, body, callback_url, run_id, created_at, request_claim)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (message_id, to, subject, body, callback_url, run_id, self._now().isoformat(), claim),
            )
        return self.get(message_id)

    def get(self, message_id: str, *, scope: str | None = None) -> MessageRecord:
        """The message; with ``scope``, only if that run sent it (else it does not exist)."""
        with self._db.transaction() as conn:
            return self._message(conn, _find(conn, message_id, scope))

    def page(
        self, *, to: str | None, replied: bool | None, limit: int, offset: int, scope: str | None = None
    ) -> tuple[list[MessageRecord], int]:
        """A page of messages, newest first, and the total matching (only ``scope``'s, when given)."""
        clauses, params = [], []
        if scope is not None:
            clauses.append("run_id = ?")
            params.append(scope)
        if to is not None:
            clauses.append("recipient = ?")
            params.append(to)
        if replied is not None:
            clauses.append("reply IS NOT NULL" if replied else "reply IS NULL")
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        with self._db.transaction() as conn:
            total = conn.execute(f"SELECT COUNT(*) FROM messages{where}", params).fetchone()[0]
            rows = conn.execute(
                f"SELECT * FROM messages{where} ORDER BY seq DESC LIMIT ? OFFSET ?", [*params, limit, offset]
            ).fetchall()
            return [self._message(conn, row) for row in rows], int(total)

    def reply(self, message_id: str, *, reply: str, reply_from: str | None, scope: str | None = None) -> MessageRecord:
        """Store the reply and, when the message has a callback, queue its delivery."""
        now = self._now()
        with self._db.transaction() as conn:
            row = _find(conn, message_id, scope)
            if row["reply"] is not None:
                raise AlreadyReplied(message_id)
            sender = reply_from or row["recipient"]
            conn.execute(
                "UPDATE messages SET reply = ?, reply_from = ?, replied_at = ? WHERE seq = ?",
                (reply, sender, now.isoformat(), row["seq"]),
            )
            if row["callback_url"]:
                payload = {
                    "message_id": message_id,
                    "from": sender,
                    "reply": reply,
                    "replied_at": now.isoformat().replace("+00:00", "Z"),
                }
                conn.execute(
                    "INSERT INTO deliveries (message_seq, url, payload, state, next_attempt_at)"
                    " VALUES (?, ?, ?, 'pending', ?)",
                    (row["seq"], row["callback_url"], json.dumps(payload), now.timestamp()),
                )
        return self.get(message_id)

    # The delivery queue

    def due_deliveries(self, *, now: float, limit: int = 20) -> list[DeliveryRecord]:
        with self._db.transaction() as conn:
            rows = conn.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM deliveries d JOIN messages m ON m.seq = d.message_seq"
                " WHERE d.state = 'pending' AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at LIMIT ?",
                (now, limit),
            ).fetchall()
        return [_delivery(row) for row in rows]

    def next_attempt_at(self) -> float | None:
        with self._db.transaction() as conn:
            row = conn.execute("SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'pending'").fetchone()
        return None if row[0] is None else float(row[0])

    def mark_delivered(self, message_seq: int) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, last_error = NULL,"
                " delivered_at = ? WHERE message_seq = ?",
                (self._now().isoformat(), message_seq),
            )

    def mark_retry(self, message_seq: int, *, error: str, next_attempt_at: float) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
                " WHERE message_seq = ?",
                (error, next_attempt_at, message_seq),
            )

    def mark_failed(self, message_seq: int, *, error: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET state = 'failed', last_error = ? WHERE message_seq = ?",
                (error, message_seq),
            )

    @staticmethod
    def _message(conn: sqlite3.Connection, row: sqlite3.Row) -> MessageRecord:
        delivery = conn.execute(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries d JOIN messages m ON m.seq = d.message_seq"
            " WHERE d.message_seq = ?",
            (row["seq"],),
        ).fetchone()
        return MessageRecord(
            id=row["id"],
            to=row["recipient"],
            subject=row["subject"],
            body=row["body"],
            callback_url=row["callback_url"],
            created_at=datetime.fromisoformat(row["created_at"]),
            reply=row["reply"],
            reply_from=row["reply_from"],
            replied_at=_time(row["replied_at"]),
            delivery=_delivery(delivery) if delivery is not None else None,
        )
