"""The gateway's SQLite file: managed API keys and the usage log.

One small file beside the service (``TOOLMESH_GATEWAY_DB``) keeps the gateway free of a
database server; WAL mode lets the key CLI and the running gateway use it at once.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["connect"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    rpm INTEGER,
    tpm INTEGER,
    created REAL NOT NULL,
    revoked REAL
);
CREATE TABLE IF NOT EXISTS usage_log (
    id INTEGER PRIMARY KEY,
    created REAL NOT NULL,
    key TEXT NOT NULL,
    run_id TEXT,
    model TEXT NOT NULL,
    deployment TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    stream INTEGER NOT NULL,
    status INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    estimated INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    cost_usd REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS usage_log_run ON usage_log (run_id);
CREATE INDEX IF NOT EXISTS usage_log_key ON usage_log (key, created);
"""


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the gateway database; the connection may move between threads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.executescript(_SCHEMA)
    columns = {row[1] for row in connection.execute("PRAGMA table_info(usage_log)")}
    if "cost_usd" not in columns:  # a database from before costs were recorded
        connection.execute("ALTER TABLE usage_log ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0")
    return connection
