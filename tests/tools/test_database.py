"""The shared database: coroutines' jobs run batched on one thread, each in its own savepoint,
and are answered only once committed; nested transactions are savepoints."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from tools.service_kit.database import Database


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(tmp_path / "db.sqlite3")
    database.executescript("CREATE TABLE items (name TEXT PRIMARY KEY)")
    return database


def _insert(conn: sqlite3.Connection, name: str, *, fail: bool = False) -> str:
    conn.execute("INSERT INTO items (name) VALUES (?)", (name,))
    if fail:
        raise ValueError(f"{name} refused")
    return name


def _names(path: Path) -> list[str]:
    """What a second connection sees: only committed work."""
    with sqlite3.connect(path) as other:
        return [row[0] for row in other.execute("SELECT name FROM items ORDER BY name")]


def _job(db: Database, name: str, *, fail: bool = False) -> str:
    with db.transaction() as conn:
        return _insert(conn, name, fail=fail)


async def test_a_failing_job_in_a_batch_undoes_only_its_own_work(db: Database, tmp_path: Path) -> None:
    db._lock.acquire()  # hold the thread back so that the three jobs form one batch
    calls = [
        asyncio.ensure_future(db.call(_job, db, "a")),
        asyncio.ensure_future(db.call(_job, db, "b", fail=True)),
        asyncio.ensure_future(db.call(_job, db, "c")),
    ]
    await asyncio.sleep(0.05)
    assert not any(call.done() for call in calls)
    db._lock.release()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert results[0] == "a" and results[2] == "c"
    assert isinstance(results[1], ValueError) and str(results[1]) == "b refused"
    assert _names(tmp_path / "db.sqlite3") == ["a", "c"]
    db.close()


async def test_a_call_is_answered_only_after_its_work_is_committed(db: Database, tmp_path: Path) -> None:
    assert await db.call(_job, db, "x") == "x"
    assert _names(tmp_path / "db.sqlite3") == ["x"]
    db.close()


async def test_a_duplicate_fails_alone_and_the_database_stays_usable(db: Database, tmp_path: Path) -> None:
    await db.call(_job, db, "dup")
    with pytest.raises(sqlite3.IntegrityError):
        await db.call(_job, db, "dup")
    assert await db.call(_job, db, "after") == "after"
    assert _names(tmp_path / "db.sqlite3") == ["after", "dup"]
    db.close()


def test_nested_transaction_rolls_back_only_the_inner_part(db: Database, tmp_path: Path) -> None:
    with db.transaction() as conn:
        _insert(conn, "outer")
        with pytest.raises(ValueError), db.transaction() as inner:
            _insert(inner, "inner", fail=True)
    assert _names(tmp_path / "db.sqlite3") == ["outer"]
    db.close()


async def test_close_finishes_the_jobs_already_handed_over(db: Database, tmp_path: Path) -> None:
    db._lock.acquire()
    pending = asyncio.ensure_future(db.call(_job, db, "late"))
    await asyncio.sleep(0.01)
    db._lock.release()
    await asyncio.to_thread(db.close)
    await asyncio.sleep(0)
    assert await pending == "late"
    assert _names(tmp_path / "db.sqlite3") == ["late"]
