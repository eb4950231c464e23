"""A claim a crash left on an Idempotency-Key: the service says when to come back, and the caller waits for it."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

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


@pytest.mark.parametrize(
    ("service", "path", "fields"),
    [
        ("notes", "/notes", {"title": "once", "content": "only once"}),
        ("issues", "/issues", {"title": "File it once"}),
        ("mailbox", "/messages", {"to": "ana@example.com", "subject": "once", "body": "Send it once?"}),
    ],
)
def test_a_retry_after_a_crash_between_the_write_and_its_record_does_not_create_twice(
    start_service: StartService, tmp_path: Path, service: str, path: str, fields: dict[str, str]
) -> None:
    """The row was committed, the process died before the key's answer was recorded, the claim expired.

    That is the state a SIGKILL in the instant between the two commits leaves; the retry runs the
    route again and must answer with what the first request made, not make a second one.
    """
    db_path = tmp_path / f"{service}.sqlite3"
    body = json.dumps(fields).encode()
    headers = {"Idempotency-Key": "key-crash-0123", "Content-Type": "application/json"}
    first = start_service(service, db=db_path)
    with client(first) as http:
        made = http.post(path, content=body, headers=headers)
    assert made.status_code == 201, made.text
    first.stop()

    with Database(db_path).transaction() as conn:
        changed = conn.execute(
            "UPDATE idempotency_keys SET state = 'pending', status = NULL, headers = NULL, body = NULL,"
            " updated_at = ? WHERE key = ?",
            (time.time() - 3600, "key-crash-0123"),
        ).rowcount
    assert changed == 1

    again = start_service(service, db=db_path)
    with client(again) as http:
        retried = http.post(path, content=body, headers=headers)
        other = http.post(path, content=body, headers={**headers, "Idempotency-Key": "key-other-0123"})
        listed = http.get(path, params={"limit": 50}).json()
    assert retried.status_code == 201, retried.text
    assert retried.json() == made.json()
    assert other.status_code == 201 and other.json()["id"] != made.json()["id"]
    assert sorted(item["id"] for item in listed["items"]) == sorted([made.json()["id"], other.json()["id"]])
