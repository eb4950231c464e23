"""A claim a crash left on an Idempotency-Key: the service says when to come back, and the caller waits for it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from agent_loop.activities import is_away
from openapi_engine import ToolResult
from tests.tools.conftest import StartService, client
from tools.service_kit.database import Database
from tools.service_kit.idempotency import IdempotencyStore


def _fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), b"", body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def test_a_claim_left_by_a_crash_answers_409_with_retry_after(start_service: StartService, tmp_path: Path) -> None:
    db_path = tmp_path / "notes.sqlite3"
    body = json.dumps({"title": "t", "content": "c"}).encode()
    # The claim a notes process killed mid-request leaves behind (its lease has not ended yet).
    IdempotencyStore(Database(db_path)).begin(
        key="key-0123456789", method="POST", path="/notes", fingerprint=_fingerprint("POST", "/notes", body)
    )
    server = start_service("notes", db=db_path)
    with client(server) as http:
        answer = http.post(
            "/notes",
            content=body,
            headers={"Idempotency-Key": "key-0123456789", "Content-Type": "application/json"},
        )
    assert answer.status_code == 409 and answer.headers["retry-after"] == "1", answer.text


def test_the_run_waits_for_a_key_in_progress_and_takes_other_conflicts_as_final() -> None:
    assert is_away(ToolResult(ok=False, status=409, retryable=True))  # came with Retry-After
    assert not is_away(ToolResult(ok=False, status=409, retryable=False))
    assert not is_away(ToolResult(ok=False, status=500, retryable=True))
    assert is_away(ToolResult(ok=False, status=503, retryable=True))
    assert is_away(ToolResult(ok=False, status=None, retryable=True))
