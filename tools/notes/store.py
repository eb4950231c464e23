"""Notes in SQLite, with an FTS5 index kept in step by triggers.

Search ranks with FTS5's BM25, weighting a match in the title above one in the tags,
and both above one in the body: a title is what a note is about. The index is an
external-content table over ``notes``, so the text is stored once.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from tools.service_kit.database import Database

from .errors import InvalidQuery, NoteNotFound

__all__ = ["NoteRecord", "NoteStore", "SearchHit", "fts_query"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    tags TEXT NOT NULL,
    run_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notes_by_run ON notes (run_id, seq);
CREATE TABLE IF NOT EXISTS note_tags (
    note_seq INTEGER NOT NULL REFERENCES notes (seq) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (note_seq, tag)
);
CREATE INDEX IF NOT EXISTS note_tags_by_tag ON note_tags (tag, note_seq);
CREATE VIRTUAL TABLE IF NOT EXISTS notes_fts USING fts5(
    title, content, tags, content = 'notes', content_rowid = 'seq', tokenize = 'porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS notes_fts_insert AFTER INSERT ON notes BEGIN
    INSERT INTO notes_fts (rowid, title, content, tags) VALUES (new.seq, new.title, new.content, new.tags);
END;
CREATE TRIGGER IF NOT EXISTS notes_fts_delete AFTER DELETE ON notes BEGIN
    INSERT INTO notes_fts (notes_fts, rowid, title, content, tags)
    VALUES ('delete', old.seq, old.title, old.content, old.tags);
END;
CREATE TRIGGER IF NOT EXISTS notes_fts_update AFTER UPDATE ON notes BEGIN
    INSERT INTO notes_fts (notes_fts, rowid, title, content, tags)
    VALUES ('delete', old.seq, old.title, old.content, old.tags);
    INSERT INTO notes_fts (rowid, title, content, tags) VALUES (new.seq, new.title, new.content, new.tags);
END;
"""

# BM25 column weights: title, content, tags.
_WEIGHTS = "4.0, 1.0, 2.0"
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, kw_only=True)
class NoteRecord:
    id: str
    title: str
    content: str
    tags: list[str]
    run_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class SearchHit:
    note: NoteRecord
    relevance: float
    snippet: str


def fts_query(text: str) -> str:
    """Turn free text into an FTS5 query: any of its words, each quoted.

    Quoting makes every word a literal, so FTS5 operators in the text (NEAR, *, ^,
    column filters) cannot change the query or make it a syntax error.
    """
    words = _WORD.findall(text)
    if not words:
        raise InvalidQuery("q must contain at least one word to search for")
    return " OR ".join(f'"{word}"' for word in words[:64])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _record(row: sqlite3.Row) -> NoteRecord:
    return NoteRecord(
        id=row["id"],
        title=row["title"],
        content=row["content"],
        tags=list(json.loads(row["tags"])),
        run_id=row["run_id"],
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )


def _find(conn: sqlite3.Connection, columns: str, note_id: str, scope: str | None) -> sqlite3.Row:
    """The note's row; NoteNotFound when there is none, or it belongs to a run other than ``scope``."""
    if scope is None:
        row = conn.execute(f"SELECT {columns} FROM notes WHERE id = ?", (note_id,)).fetchone()
    else:
        row = conn.execute(f"SELECT {columns} FROM notes WHERE id = ? AND run_id = ?", (note_id, scope)).fetchone()
    if row is None:
        raise NoteNotFound(note_id)
    found: sqlite3.Row = row
    return found


def _filters(run_id: str | None, tag: str | None) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if run_id is not None:
        clauses.append("n.run_id = ?")
        params.append(run_id)
    if tag is not None:
        clauses.append("EXISTS (SELECT 1 FROM note_tags t WHERE t.note_seq = n.seq AND t.tag = ?)")
        params.append(tag)
    return "".join(f" AND {c}" for c in clauses), params


class NoteStore:
    """Create, read, update, delete, list and search notes."""

    def __init__(self, db: Database) -> None:
        self._db = db
        db.executescript(_SCHEMA)
        db.keep_request_claims("notes")

    @property
    def database(self) -> Database:
        """Where the notes live; async callers run the methods through its ``call``."""
        return self._db

    def create(
        self, *, title: str, content: str, tags: list[str], run_id: str | None, claim: str | None = None
    ) -> NoteRecord:
        """A new note; with the ``claim`` of a request that already made one, that note instead."""
        note_id = f"note_{uuid.uuid4().hex[:16]}"
        now = _now()
        with self._db.transaction() as conn:
            made = self._db.claimed_row(conn, "notes", claim, "id")
            if made is not None:
                return self.get(made)
            cursor = conn.execute(
                "INSERT INTO notes (id, title, content, tags, run_id, created_at, updated_at, request_claim)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (note_id, title, content, json.dumps(tags), run_id, now, now, claim),
            )
            conn.executemany(
                "INSERT INTO note_tags (note_seq, tag) VALUES (?, ?)",
                [(cursor.lastrowid, tag) for tag in tags],
            )
        return self.get(note_id)

    def get(self, note_id: str, *, scope: str | None = None) -> NoteRecord:
        """The note; with ``scope``, only if it belongs to that run (else it does not exist)."""
        with self._db.transaction() as conn:
            row = _find(conn, "*", note_id, scope)
        return _record(row)

    def update(
        self,
        note_id: str,
        *,
        title: str | None = None,
        content: str | None = None,
        tags: list[str] | None = None,
        scope: str | None = None,
    ) -> NoteRecord:
        with self._db.transaction() as conn:
            row = _find(conn, "seq", note_id, scope)
            changes: dict[str, object] = {}
            if title is not None:
                changes["title"] = title
            if content is not None:
                changes["content"] = content
            if tags is not None:
                changes["tags"] = json.dumps(tags)
                conn.execute("DELETE FROM note_tags WHERE note_seq = ?", (row["seq"],))
                conn.executemany(
                    "INSERT INTO note_tags (note_seq, tag) VALUES (?, ?)", [(row["seq"], tag) for tag in tags]
                )
            if changes:
                changes["updated_at"] = _now()
                assignments = ", ".join(f"{column} = ?" for column in changes)
                conn.execute(f"UPDATE notes SET {assignments} WHERE seq = ?", (*changes.values(), row["seq"]))
        return self.get(note_id)

    def delete(self, note_id: str, *, scope: str | None = None) -> None:
        with self._db.transaction() as conn:
            row = _find(conn, "seq", note_id, scope)
            conn.execute("DELETE FROM notes WHERE seq = ?", (row["seq"],))

    def page(self, *, run_id: str | None, tag: str | None, limit: int, offset: int) -> tuple[list[NoteRecord], int]:
        """A page of notes, newest first, and the total matching the filters."""
        where, params = _filters(run_id, tag)
        with self._db.transaction() as conn:
            total = conn.execute(f"SELECT COUNT(*) FROM notes n WHERE 1 = 1{where}", params).fetchone()[0]
            rows = conn.execute(
                f"SELECT n.* FROM notes n WHERE 1 = 1{where} ORDER BY n.seq DESC LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        return [_record(row) for row in rows], int(total)

    def search(
        self, text: str, *, run_id: str | None, tag: str | None, limit: int, offset: int
    ) -> tuple[list[SearchHit], int]:
        """A page of notes matching any word of ``text``, most relevant first.

        The agent recalls within its own run, so a run filter also bounds the index scan to
        the rowids between the run's first and last note (the ``rowid`` range FTS5 seeks to):
        the cost follows the notes written while the run lived, not the whole history. The
        ranking is unchanged, since BM25 takes its statistics from the whole index either way.
        The total is counted only when the page does not already tell it.
        """
        query = fts_query(text)
        where, params = _filters(run_id, tag)
        window: list[object] = []
        if run_id is not None:
            where += (
                " AND notes_fts.rowid >= (SELECT min(seq) FROM notes WHERE run_id = ?)"
                " AND notes_fts.rowid <= (SELECT max(seq) FROM notes WHERE run_id = ?)"
            )
            window = [run_id, run_id]
        # CROSS JOIN keeps the index outermost, so the rowid range reaches FTS5.
        base = f"FROM notes_fts CROSS JOIN notes n ON n.seq = notes_fts.rowid WHERE notes_fts MATCH ?{where}"
        arguments = [query, *params, *window]
        with self._db.transaction() as conn:
            rows = conn.execute(
                f"SELECT n.*, bm25(notes_fts, {_WEIGHTS}) AS score,"
                f" snippet(notes_fts, 1, '[', ']', '…', 16) AS snippet {base}"
                " ORDER BY score, n.seq DESC LIMIT ? OFFSET ?",
                [*arguments, limit, offset],
            ).fetchall()
            if 0 < len(rows) < limit or (not rows and offset == 0):
                total = offset + len(rows)
            else:
                total = conn.execute(f"SELECT COUNT(*) {base}", arguments).fetchone()[0]
        hits = [
            SearchHit(
                note=_record(row),
                relevance=round(-float(row["score"]), 6),
                snippet=row["snippet"] or row["title"],
            )
            for row in rows
        ]
        return hits, int(total)
