"""``Idempotency-Key`` support: a retried non-safe request returns the first response.

The orchestrator derives a key from its run and call ids and sends it with every
non-safe call, so an activity retried after a crash does not act twice. The record
lives in the service's SQLite file, so it also holds across a restart of the service.

A request first claims its key (a *pending* row); only a 2xx answer is kept, any other
answer releases the claim so the caller may retry. A claim left behind by a crash is
taken over after ``lease_seconds``. Completed records are kept for ``retention_seconds``
(30 days by default, far longer than any retry) and purged when the service starts.
A key is scoped to the method and path it was first used with, and the same key with
a different body is refused (409), because answering it with another request's
response would be wrong.

The claim, the action and the completion are separate transactions: a crash in the
instant between the action's commit and the completion leaves a claim that expires,
after which the retry runs the route again. So that it does not act twice, a route that
creates something stores the request's ``claim`` (``REQUEST_CLAIM`` in the request's
state: the key and the request it came with, hashed) with what it creates, in the same
transaction, and answers a second request with the same claim with what the first one
made. The completion commits before the response's last bytes go out, so a caller who
got the answer can always have it replayed. All of it goes through the database thread
(``Database.call``), never blocking the event loop.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .database import Database
from .errors import IdempotencyError, IdempotencyInProgress, IdempotencyMismatch
from .middleware import send_json

__all__ = ["REQUEST_CLAIM", "IdempotencyMiddleware", "IdempotencyStore", "StoredResponse", "valid_key"]

HEADER = "idempotency-key"
REQUEST_CLAIM = "idempotency_claim"
"""Key of the request's state holding its claim: set while a route runs under a claimed key."""
NON_SAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_KEY_LENGTH = 255

_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done')),
    status INTEGER,
    headers TEXT,
    body BLOB,
    updated_at REAL NOT NULL,
    PRIMARY KEY (key, method, path)
);
"""


def valid_key(value: str) -> bool:
    """1 to 255 visible ASCII characters: what the header's schema in the spec allows."""
    return 0 < len(value) <= MAX_KEY_LENGTH and all(33 <= ord(ch) <= 126 for ch in value)


@dataclass(frozen=True, kw_only=True)
class StoredResponse:
    """A complete HTTP response as it was first sent."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class IdempotencyStore:
    """Claims, completes and replays idempotency keys in SQLite."""

    def __init__(
        self,
        db: Database,
        *,
        lease_seconds: float = 60.0,
        retention_seconds: float = 30 * 86_400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock`` gives the wall time in seconds (records outlive the process, so not monotonic)."""
        self._db = db
        self._lease = lease_seconds
        self._clock = clock
        db.executescript(_SCHEMA)
        with db.transaction() as conn:
            conn.execute("DELETE FROM idempotency_keys WHERE updated_at < ?", (clock() - retention_seconds,))

    @property
    def database(self) -> Database:
        """Where the records live; async callers run the methods through its ``call``."""
        return self._db

    def begin(self, *, key: str, method: str, path: str, fingerprint: str) -> StoredResponse | None:
        """Claim the key and return None, or return the stored response to replay.

        Raises IdempotencyMismatch when the key came with a different request, and
        IdempotencyInProgress while the first request still holds a live claim.
        """
        now = self._clock()
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT fingerprint, state, status, headers, body, updated_at FROM idempotency_keys"
                " WHERE key = ? AND method = ? AND path = ?",
                (key, method, path),
            ).fetchone()
            if row is not None:
                if row["fingerprint"] != fingerprint:
                    raise IdempotencyMismatch(
                        "Idempotency-Key was already used with a different request body or query;"
                        " use a new key for a new request"
                    )
                if row["state"] == "done":
                    return StoredResponse(
                        status=int(row["status"]),
                        headers=[(k, v) for k, v in json.loads(row["headers"])],
                        body=bytes(row["body"]),
                    )
                if now - float(row["updated_at"]) < self._lease:
                    raise IdempotencyInProgress(
                        "a request with this Idempotency-Key is still being processed; retry shortly"
                    )
            conn.execute(
                "INSERT OR REPLACE INTO idempotency_keys (key, method, path, fingerprint, state, updated_at)"
                " VALUES (?, ?, ?, ?, 'pending', ?)",
                (key, method, path, fingerprint, now),
            )
        return None

    def complete(self, *, key: str, method: str, path: str, response: StoredResponse) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE idempotency_keys SET state = 'done', status = ?, headers = ?, body = ?,"
                " updated_at = ? WHERE key = ? AND method = ? AND path = ?",
                (
                    response.status,
                    json.dumps(response.headers),
                    response.body,
                    self._clock(),
                    key,
                    method,
                    path,
                ),
            )

    def release(self, *, key: str, method: str, path: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "DELETE FROM idempotency_keys WHERE key = ? AND method = ? AND path = ? AND state = 'pending'",
                (key, method, path),
            )


class IdempotencyMiddleware:
    """ASGI middleware applying the store to non-safe requests that carry the header.

    It reads ``app.state.idempotency`` (the store) and ``app.state.authorize`` (a
    callable telling whether the request's headers carry the right API key): a stored
    response is never replayed to a caller who could not have made the request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in NON_SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get(HEADER)
        state = scope["app"].state
        if key is None or not valid_key(key) or not state.authorize(headers):
            await self.app(scope, receive, send)
            return

        body = await _read_body(receive)
        method, path = scope["method"], scope["path"]
        digest = hashlib.sha256()
        for part in (method.encode(), path.encode(), scope.get("query_string", b""), body):
            digest.update(len(part).to_bytes(8, "big") + part)
        store: IdempotencyStore = state.idempotency
        call = store.database.call
        try:
            stored = await call(store.begin, key=key, method=method, path=path, fingerprint=digest.hexdigest())
        except IdempotencyError as exc:
            # A claim still held (the first request runs, or a crash left it until its lease ends)
            # says when to come back, so callers retry it rather than take the 409 as final.
            later = [(b"retry-after", b"1")] if isinstance(exc, IdempotencyInProgress) else []
            await send_json(send, exc.status_code, {"detail": exc.message}, later)
            return
        if stored is not None:
            await _send_stored(send, stored)
            return
        claim = hashlib.sha256(digest.digest() + key.encode()).hexdigest()
        scope.setdefault("state", {})[REQUEST_CLAIM] = claim

        captured = _Capture()

        async def replay_receive() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def complete() -> None:
            response = StoredResponse(status=captured.status, headers=captured.headers, body=bytes(captured.body))
            await call(store.complete, key=key, method=method, path=path, response=response)
            captured.completed = True

        async def capture_send(message: Message) -> None:
            captured.record(message)
            if captured.finished and 200 <= captured.status < 300:
                await complete()  # recorded before the caller can see the answer
            await send(message)

        try:
            await self.app(scope, replay_receive, capture_send)
        except BaseException:
            if not captured.completed:
                await call(store.release, key=key, method=method, path=path)
            raise
        if captured.completed:
            return
        if captured.finished and 200 <= captured.status < 300:
            await complete()
        else:
            await call(store.release, key=key, method=method, path=path)


class _Capture:
    """The response of the first request, collected while it streams to the client."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.body = bytearray()
        self.finished = False
        self.completed = False

    def record(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            self.headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            self.body.extend(message.get("body", b""))
            self.finished = not message.get("more_body", False)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send_stored(send: Send, stored: StoredResponse) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in stored.headers]
    headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": stored.status, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body})
