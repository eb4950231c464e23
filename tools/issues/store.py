"""Projects, issues and comments in SQLite, with an FTS5 index over issues.

Issue ids are ``<PROJECT KEY>-<number>`` (ENG-7), numbered per project from a counter
kept on the project row, so numbers are never reused even after a delete. Lists sort
the way a tracker does: most urgent first, then newest.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tools.service_kit.database import Database

from .errors import InvalidQuery, IssueAlreadyClosed, IssueNotFound, ProjectExists, ProjectNotFound

__all__ = [
    "CLOSED_STATES",
    "PRIORITIES",
    "CommentRecord",
    "IssueFilters",
    "IssueRecord",
    "IssueStore",
    "ProjectRecord",
]

OPEN_STATES = ("backlog", "todo", "in_progress", "in_review")
CLOSED_STATES = ("done", "canceled")
PRIORITIES = ("urgent", "high", "medium", "low", "none")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    next_number INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS issues (
    seq INTEGER PRIMARY KEY,
    project_key TEXT NOT NULL REFERENCES projects (key),
    number INTEGER NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    state TEXT NOT NULL,
    priority TEXT NOT NULL,
    assignee TEXT,
    labels TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    closed_at TEXT,
    UNIQUE (project_key, number)
);
CREATE TABLE IF NOT EXISTS issue_labels (
    issue_seq INTEGER NOT NULL REFERENCES issues (seq) ON DELETE CASCADE,
    label TEXT NOT NULL,
    PRIMARY KEY (issue_seq, label)
);
CREATE TABLE IF NOT EXISTS comments (
    seq INTEGER PRIMARY KEY,
    issue_seq INTEGER NOT NULL REFERENCES issues (seq) ON DELETE CASCADE,
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS comments_by_issue ON comments (issue_seq, seq);
CREATE VIRTUAL TABLE IF NOT EXISTS issues_fts USING fts5(
    title, description, labels, content = 'issues', content_rowid = 'seq', tokenize = 'porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS issues_fts_insert AFTER INSERT ON issues BEGIN
    INSERT INTO issues_fts (rowid, title, description, labels)
    VALUES (new.seq, new.title, new.description, new.labels);
END;
CREATE TRIGGER IF NOT EXISTS issues_fts_delete AFTER DELETE ON issues BEGIN
    INSERT INTO issues_fts (issues_fts, rowid, title, description, labels)
    VALUES ('delete', old.seq, old.title, old.description, old.labels);
END;
CREATE TRIGGER IF NOT EXISTS issues_fts_update AFTER UPDATE ON issues BEGIN
    INSERT INTO issues_fts (issues_fts, rowid, title, description, labels)
    VALUES ('delete', old.seq, old.title, old.description, old.labels);
    INSERT INTO issues_fts (rowid, title, description, labels)
    VALUES (new.seq, new.title, new.description, new.labels);
END;
"""

_ISSUE_ID = re.compile(r"^([A-Z][A-Z0-9]{1,9})-([1-9][0-9]{0,8})$")
_PRIORITY_RANK = "CASE i.priority " + " ".join(f"WHEN '{p}' THEN {n}" for n, p in enumerate(PRIORITIES)) + " END"
_WORD = re.compile(r"\w+", re.UNICODE)
_UPDATABLE = frozenset({"title", "description", "state", "priority", "assignee", "labels"})


@dataclass(frozen=True, kw_only=True)
class ProjectRecord:
    key: str
    name: str
    description: str
    created_at: datetime
    open_issues: int
    total_issues: int


@dataclass(frozen=True, kw_only=True)
class CommentRecord:
    id: int
    author: str
    body: str
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class IssueRecord:
    id: str
    project: str
    title: str
    description: str
    state: str
    priority: str
    assignee: str | None
    labels: list[str]
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    comment_count: int


@dataclass(frozen=True, kw_only=True)
class IssueFilters:
    """What a list or a search is narrowed to; None means any."""

    project: str | None = None
    state: str | None = None
    assignee: str | None = None
    label: str | None = None
    priority: str | None = None

    def where(self) -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        for column, value in (
            ("i.project_key", self.project),
            ("i.state", self.state),
            ("i.assignee", self.assignee),
            ("i.priority", self.priority),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.label is not None:
            clauses.append("EXISTS (SELECT 1 FROM issue_labels l WHERE l.issue_seq = i.seq AND l.label = ?)")
            params.append(self.label)
        return "".join(f" AND {c}" for c in clauses), params


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _issue(row: sqlite3.Row) -> IssueRecord:
    return IssueRecord(
        id=f"{row['project_key']}-{row['number']}",
        project=row["project_key"],
        title=row["title"],
        description=row["description"],
        state=row["state"],
        priority=row["priority"],
        assignee=row["assignee"],
        labels=list(json.loads(row["labels"])),
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        closed_at=_time(row["closed_at"]),
        comment_count=int(row["comment_count"]),
    )


_ISSUE_COLUMNS = "i.*, (SELECT COUNT(*) FROM comments c WHERE c.issue_seq = i.seq) AS comment_count"


class IssueStore:
    """Projects, issues and their comments."""

    def __init__(self, db: Database) -> None:
        self._db = db
        db.executescript(_SCHEMA)
        db.keep_request_claims("issues")

    # Projects

    def create_project(self, *, key: str, name: str, description: str) -> ProjectRecord:
        try:
            with self._db.transaction() as conn:
                conn.execute(
                    "INSERT INTO projects (key, name, description, created_at) VALUES (?, ?, ?, ?)",
                    (key, name, description, _now()),
                )
        except sqlite3.IntegrityError:
            raise ProjectExists(key) from None
        return self.get_project(key)

    def ensure_project(self, *, key: str, name: str) -> None:
        """Create the project unless it exists (the default project, at startup)."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO projects (key, name, description, created_at) VALUES (?, ?, ?, ?)",
                (key, name, "Issues filed without a project.", _now()),
            )

    def get_project(self, key: str) -> ProjectRecord:
        projects = self._projects("WHERE p.key = ?", (key,))
        if not projects:
            raise ProjectNotFound(key)
        return projects[0]

    def list_projects(self) -> list[ProjectRecord]:
        return self._projects("", ())

    def _projects(self, where: str, params: Sequence[object]) -> list[ProjectRecord]:
        closed = ", ".join(f"'{s}'" for s in CLOSED_STATES)
        with self._db.transaction() as conn:
            rows = conn.execute(
                "SELECT p.*, COUNT(i.seq) AS total,"
                f" COALESCE(SUM(i.state NOT IN ({closed})), 0) AS open"
                f" FROM projects p LEFT JOIN issues i ON i.project_key = p.key {where}"
                " GROUP BY p.key ORDER BY p.key",
                params,
            ).fetchall()
        return [
            ProjectRecord(
                key=r["key"],
                name=r["name"],
                description=r["description"],
                created_at=datetime.fromisoformat(r["created_at"]),
                open_issues=int(r["open"]),
                total_issues=int(r["total"]),
            )
            for r in rows
        ]

    # Issues

    def create_issue(
        self,
        *,
        project: str,
        title: str,
        description: str,
        state: str,
        priority: str,
        assignee: str | None,
        labels: list[str],
        claim: str | None = None,
    ) -> IssueRecord:
        """A new issue; with the ``claim`` of a request that already filed one, that issue instead."""
        now = _now()
        with self._db.transaction() as conn:
            filed = self._db.claimed_row(conn, "issues", claim, "project_key || '-' || number AS issue_id")
            if filed is not None:
                return self.get_issue(filed)
            row = conn.execute("SELECT next_number FROM projects WHERE key = ?", (project,)).fetchone()
            if row is None:
                raise ProjectNotFound(project)
            number = int(row["next_number"])
            conn.execute("UPDATE projects SET next_number = ? WHERE key = ?", (number + 1, project))
            cursor = conn.execute(
                "INSERT INTO issues (project_key, number, title, description, state, priority, assignee,"
                " labels, created_at, updated_at, request_claim) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    project,
                    number,
                    title,
                    description,
                    state,
                    priority,
                    assignee,
                    json.dumps(labels),
                    now,
                    now,
                    claim,
                ),
            )
            conn.executemany(
                "INSERT INTO issue_labels (issue_seq, label) VALUES (?, ?)",
                [(cursor.lastrowid, label) for label in labels],
            )
        return self.get_issue(f"{project}-{number}")

    def get_issue(self, issue_id: str) -> IssueRecord:
        with self._db.transaction() as conn:
            return _issue(self._issue_row(conn, issue_id))

    def comments(self, issue_id: str) -> list[CommentRecord]:
        with self._db.transaction() as conn:
            seq = self._issue_row(conn, issue_id)["seq"]
            rows = conn.execute("SELECT * FROM comments WHERE issue_seq = ? ORDER BY seq", (seq,)).fetchall()
        return [
            CommentRecord(
                id=r["seq"],
                author=r["author"],
                body=r["body"],
                created_at=datetime.fromisoformat(r["created_at"]),
            )
            for r in rows
        ]

    def update_issue(self, issue_id: str, changes: dict[str, object]) -> IssueRecord:
        """Apply ``changes`` (field -> value); reopening clears ``closed_at``."""
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
        with self._db.transaction() as conn:
            row = self._issue_row(conn, issue_id)
            columns = dict(changes)
            labels = columns.get("labels")
            if isinstance(labels, list):
                columns["labels"] = json.dumps(labels)
                conn.execute("DELETE FROM issue_labels WHERE issue_seq = ?", (row["seq"],))
                conn.executemany(
                    "INSERT INTO issue_labels (issue_seq, label) VALUES (?, ?)",
                    [(row["seq"], label) for label in labels],
                )
            if columns.get("state") in OPEN_STATES:
                columns["closed_at"] = None
            if columns:
                columns["updated_at"] = _now()
                assignments = ", ".join(f"{column} = ?" for column in columns)
                conn.execute(f"UPDATE issues SET {assignments} WHERE seq = ?", (*columns.values(), row["seq"]))
        return self.get_issue(issue_id)

    def add_comment(self, issue_id: str, *, author: str, body: str) -> CommentRecord:
        now = _now()
        with self._db.transaction() as conn:
            seq = self._issue_row(conn, issue_id)["seq"]
            cursor = conn.execute(
                "INSERT INTO comments (issue_seq, author, body, created_at) VALUES (?, ?, ?, ?)",
                (seq, author, body, now),
            )
            conn.execute("UPDATE issues SET updated_at = ? WHERE seq = ?", (now, seq))
        assert cursor.lastrowid is not None
        return CommentRecord(id=cursor.lastrowid, author=author, body=body, created_at=datetime.fromisoformat(now))

    def close_issue(self, issue_id: str, *, resolution: str, comment: str | None, author: str) -> IssueRecord:
        now = _now()
        with self._db.transaction() as conn:
            row = self._issue_row(conn, issue_id)
            if row["state"] in CLOSED_STATES:
                raise IssueAlreadyClosed(issue_id, row["state"])
            conn.execute(
                "UPDATE issues SET state = ?, closed_at = ?, updated_at = ? WHERE seq = ?",
                (resolution, now, now, row["seq"]),
            )
            if comment:
                conn.execute(
                    "INSERT INTO comments (issue_seq, author, body, created_at) VALUES (?, ?, ?, ?)",
                    (row["seq"], author, comment, now),
                )
        return self.get_issue(issue_id)

    def delete_issue(self, issue_id: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM issues WHERE seq = ?", (self._issue_row(conn, issue_id)["seq"],))

    def page(self, filters: IssueFilters, *, limit: int, offset: int) -> tuple[list[IssueRecord], int]:
        """A page of issues, most urgent first then newest, and the total matching."""
        where, params = filters.where()
        with self._db.transaction() as conn:
            total = conn.execute(f"SELECT COUNT(*) FROM issues i WHERE 1 = 1{where}", params).fetchone()[0]
            rows = conn.execute(
                f"SELECT {_ISSUE_COLUMNS} FROM issues i WHERE 1 = 1{where}"
                f" ORDER BY {_PRIORITY_RANK}, i.seq DESC LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        return [_issue(r) for r in rows], int(total)

    def search(
        self, text: str, filters: IssueFilters, *, limit: int, offset: int
    ) -> tuple[list[tuple[IssueRecord, float]], int]:
        """Issues matching any word of ``text`` (title counts most), best first, with relevance."""
        words = _WORD.findall(text)
        if not words:
            raise InvalidQuery("q must contain at least one word to search for")
        query = " OR ".join(f'"{word}"' for word in words[:64])
        where, params = filters.where()
        base = f"FROM issues_fts JOIN issues i ON i.seq = issues_fts.rowid WHERE issues_fts MATCH ?{where}"
        with self._db.transaction() as conn:
            total = conn.execute(f"SELECT COUNT(*) {base}", [query, *params]).fetchone()[0]
            rows = conn.execute(
                f"SELECT {_ISSUE_COLUMNS}, bm25(issues_fts, 4.0, 1.0, 2.0) AS score {base}"
                " ORDER BY score, i.seq DESC LIMIT ? OFFSET ?",
                [query, *params, limit, offset],
            ).fetchall()
        return [(_issue(r), round(-float(r["score"]), 6)) for r in rows], int(total)

    @staticmethod
    def _issue_row(conn: sqlite3.Connection, issue_id: str) -> sqlite3.Row:
        match = _ISSUE_ID.match(issue_id)
        row = None
        if match is not None:
            row = conn.execute(
                f"SELECT {_ISSUE_COLUMNS} FROM issues i WHERE i.project_key = ? AND i.number = ?",
                (match.group(1), int(match.group(2))),
            ).fetchone()
        if row is None:
            raise IssueNotFound(issue_id)
        row_: sqlite3.Row = row
        return row_
