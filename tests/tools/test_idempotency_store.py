"""The idempotency record's life: claim, replay, conflict, lease takeover, release, expiry.

The HTTP tests show the replay end to end; these drive the store directly, since a
request still running or a claim abandoned by a crash cannot be timed through HTTP.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.clock import ManualClock
from tools.service_kit.database import Database
from tools.service_kit.errors import IdempotencyInProgress, IdempotencyMismatch
from tools.service_kit.idempotency import IdempotencyStore, StoredResponse, valid_key

RESPONSE = StoredResponse(status=201, headers=[("content-type", "application/json")], body=b'{"id": "n1"}')


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path / "idem.sqlite3")


def _begin(store: IdempotencyStore, fingerprint: str = "f1") -> StoredResponse | None:
    return store.begin(key="k", method="POST", path="/notes", fingerprint=fingerprint)


def test_completed_key_replays_the_stored_response(db: Database) -> None:
    store = IdempotencyStore(db)
    assert _begin(store) is None
    store.complete(key="k", method="POST", path="/notes", response=RESPONSE)
    assert _begin(store) == RESPONSE


def test_running_request_makes_a_second_one_wait(db: Database) -> None:
    store = IdempotencyStore(db)
    assert _begin(store) is None
    with pytest.raises(IdempotencyInProgress):
        _begin(store)


def test_claim_abandoned_by_a_crash_is_taken_over_after_the_lease(db: Database) -> None:
    clock = ManualClock()
    assert _begin(IdempotencyStore(db, lease_seconds=60, clock=clock)) is None
    clock.now += 59
    with pytest.raises(IdempotencyInProgress):
        _begin(IdempotencyStore(db, lease_seconds=60, clock=clock))
    clock.now += 2
    assert _begin(IdempotencyStore(db, lease_seconds=60, clock=clock)) is None


def test_released_key_can_be_used_again(db: Database) -> None:
    store = IdempotencyStore(db)
    assert _begin(store) is None
    store.release(key="k", method="POST", path="/notes")
    assert _begin(store, fingerprint="f2") is None


def test_same_key_with_another_request_is_refused(db: Database) -> None:
    store = IdempotencyStore(db)
    _begin(store)
    store.complete(key="k", method="POST", path="/notes", response=RESPONSE)
    with pytest.raises(IdempotencyMismatch):
        _begin(store, fingerprint="other")


def test_same_key_on_another_path_is_independent(db: Database) -> None:
    store = IdempotencyStore(db)
    _begin(store)
    assert store.begin(key="k", method="DELETE", path="/notes/n1", fingerprint="x") is None


def test_old_records_are_purged_when_the_service_starts(db: Database) -> None:
    clock = ManualClock()
    store = IdempotencyStore(db, clock=clock)
    _begin(store)
    store.complete(key="k", method="POST", path="/notes", response=RESPONSE)
    clock.now += 3600
    assert _begin(IdempotencyStore(db, retention_seconds=7200, clock=clock)) == RESPONSE
    clock.now += 3601
    assert _begin(IdempotencyStore(db, retention_seconds=7200, clock=clock)) is None


@pytest.mark.parametrize(
    ("key", "valid"),
    [("run:call-1", True), ("", False), ("a b", False), ("é", False), ("x" * 255, True), ("x" * 256, False)],
)
def test_valid_key_matches_the_header_schema(key: str, valid: bool) -> None:
    assert valid_key(key) is valid
