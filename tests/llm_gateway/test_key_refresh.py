"""How soon a running gateway sees keys another process created or revoked, on an injected clock."""

from __future__ import annotations

from pathlib import Path

from llm_gateway.db import connect
from llm_gateway.keys import KeyStore
from tests.support.clock import ManualClock


def test_a_key_revoked_elsewhere_stops_working_within_a_second(tmp_path: Path) -> None:
    clock = ManualClock()
    running = KeyStore(env_keys=[], db=connect(tmp_path / "gw.sqlite3"), clock=clock)
    other = KeyStore(env_keys=[], db=connect(tmp_path / "gw.sqlite3"))  # the key CLI, another process
    key = other.create("late")
    clock.now += 0.2  # an unknown key re-reads the database at most every 0.1 s
    assert running.authenticate(key) is not None
    other.revoke("late")
    clock.now += 0.9
    assert running.authenticate(key) is not None  # still the keys read a moment ago
    clock.now += 0.2
    assert running.authenticate(key) is None


def test_unknown_keys_do_not_reread_the_database_on_every_request(tmp_path: Path) -> None:
    clock = ManualClock()
    running = KeyStore(env_keys=[], db=connect(tmp_path / "gw.sqlite3"), clock=clock)
    key = KeyStore(env_keys=[], db=connect(tmp_path / "gw.sqlite3")).create("new")
    assert running.authenticate(key) is None  # read at construction, 0 s ago
    clock.now += 0.11
    assert running.authenticate(key) is not None
