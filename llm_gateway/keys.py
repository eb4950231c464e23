"""Client API keys: from the environment and managed in SQLite, held only as SHA-256 hashes.

Keys are random 32-byte tokens, so a fast unsalted hash is enough: the database never holds a
usable key, and a presented key is checked against every known hash with
``hmac.compare_digest`` so timing says nothing about which hashes exist. The gateway runs open
(every request accepted as "anonymous") only when started with ``TOOLMESH_GATEWAY_OPEN=true``;
otherwise a request without a known key is refused, also when no key exists at all (say, after the
last managed key was revoked), and a revoked key is refused even in open mode.

Managed keys are created with the CLI, which prints the key once::

    python -m llm_gateway.keys create ci --rpm 60 --tpm 100000
    python -m llm_gateway.keys list
    python -m llm_gateway.keys revoke ci
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from llm_gateway.db import connect

__all__ = ["ANONYMOUS", "ClientKey", "KeyStore", "hash_key", "new_key"]

_REFRESH_INTERVAL = 1.0
_MISS_REFRESH_INTERVAL = 0.1
KEY_PREFIX = "tmk-"


@dataclass(frozen=True, kw_only=True, slots=True)
class ClientKey:
    """An authenticated client: the name usage is attributed to and its own limits, if any."""

    name: str
    key_hash: str
    rpm: int | None = None
    tpm: int | None = None


ANONYMOUS = ClientKey(name="anonymous", key_hash="")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class KeyStore:
    """Known key hashes: the environment's plus the database's (re-read when an unknown key shows up)."""

    def __init__(
        self,
        *,
        env_keys: list[str],
        db: sqlite3.Connection,
        open_mode: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock`` (monotonic seconds) paces the re-reads of the database's keys."""
        self._clock = clock
        self._env = [ClientKey(name=f"env:{hash_key(k)[:8]}", key_hash=hash_key(k)) for k in env_keys if k]
        self._db = db
        self._open = open_mode
        self._lock = threading.Lock()
        self._managed: list[ClientKey] = []
        self._revoked: frozenset[str] = frozenset()
        self._loaded_at = 0.0
        self._reload()

    @property
    def open(self) -> bool:
        """True only when the gateway was started open: a request without a known key is "anonymous"."""
        return self._open

    @property
    def configured(self) -> bool:
        """Whether any key could be accepted right now (env keys or active managed keys)."""
        return bool(self._env or self._managed)

    def _reload(self) -> None:
        with self._lock:
            rows = self._db.execute("SELECT name, key_hash, rpm, tpm, revoked FROM api_keys").fetchall()
        self._managed = [ClientKey(name=r[0], key_hash=r[1], rpm=r[2], tpm=r[3]) for r in rows if r[4] is None]
        self._revoked = frozenset(r[1] for r in rows if r[4] is not None)
        self._loaded_at = self._clock()

    def _find(self, digest: str) -> ClientKey | None:
        found: ClientKey | None = None
        for candidate in (*self._env, *self._managed):
            if hmac.compare_digest(candidate.key_hash, digest):
                found = candidate
        return found

    def authenticate(self, key: str) -> ClientKey | None:
        if self._clock() - self._loaded_at > _REFRESH_INTERVAL:
            self._reload()  # keys revoked by the CLI while the gateway runs stop working within a second
        digest = hash_key(key)
        found = self._find(digest)
        if found is None and self._clock() - self._loaded_at > _MISS_REFRESH_INTERVAL:
            self._reload()  # a key just created; rate-limited so unknown keys cannot hammer the database
            found = self._find(digest)
        return found

    def revoked(self, key: str) -> bool:
        """Whether ``key`` is a managed key that was revoked (refused even when the gateway runs open)."""
        return hash_key(key) in self._revoked

    def create(self, name: str, *, rpm: int | None = None, tpm: int | None = None) -> str:
        key = new_key()
        with self._lock:
            self._db.execute(
                "INSERT INTO api_keys (name, key_hash, prefix, rpm, tpm, created) VALUES (?, ?, ?, ?, ?, ?)",
                (name, hash_key(key), key[:8], rpm, tpm, time.time()),
            )
        self._reload()
        return key

    def revoke(self, name: str) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "UPDATE api_keys SET revoked = ? WHERE name = ? AND revoked IS NULL", (time.time(), name)
            )
        self._reload()
        return cursor.rowcount > 0

    def listing(self) -> list[tuple[str, str, int | None, int | None, bool]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name, prefix, rpm, tpm, revoked IS NOT NULL FROM api_keys ORDER BY id"
            ).fetchall()
        return [(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]


cli = typer.Typer(help="Manage the gateway's client API keys (stored hashed in TOOLMESH_GATEWAY_DB).")


def _store() -> KeyStore:
    from llm_gateway.config import get_settings

    return KeyStore(env_keys=[], db=connect(Path(get_settings().db)))


@cli.command()
def create(
    name: str,
    rpm: Annotated[int | None, typer.Option(min=1)] = None,
    tpm: Annotated[int | None, typer.Option(min=1)] = None,
) -> None:
    """Create a key and print it (the only time it is shown)."""
    try:
        key = _store().create(name, rpm=rpm, tpm=tpm)
    except sqlite3.IntegrityError:
        typer.echo(f"a key named {name!r} already exists", err=True)
        raise typer.Exit(1) from None
    typer.echo(key)


@cli.command("list")
def list_keys() -> None:
    """List keys (name, prefix, limits, state); never the keys themselves."""
    for name, prefix, rpm, tpm, revoked in _store().listing():
        state = "revoked" if revoked else "active"
        typer.echo(f"{name}\t{prefix}…\trpm={rpm or '-'}\ttpm={tpm or '-'}\t{state}")


@cli.command()
def revoke(name: str) -> None:
    """Revoke a key; the gateway stops accepting it within a second."""
    if not _store().revoke(name):
        typer.echo(f"no active key named {name!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {name}")


if __name__ == "__main__":
    cli()
