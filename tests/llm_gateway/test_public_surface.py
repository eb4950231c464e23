"""Each gateway module declares a sorted ``__all__`` naming things that exist; the usage log is bounded."""

from __future__ import annotations

import importlib
import pkgutil
import sqlite3
from pathlib import Path

import pytest

import llm_gateway
from llm_gateway.db import connect
from llm_gateway.usage import UsageEntry, UsageLog

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(llm_gateway.__path__, "llm_gateway.") if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_module_all_is_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if exported is None:
        assert name.endswith(("__init__", "adapters", "routers")) or not [
            n for n in vars(module) if not n.startswith("_") and getattr(vars(module)[n], "__module__", "") == name
        ], f"{name} has public names but no __all__"
        return
    assert list(exported) == sorted(exported), f"{name}.__all__ is not sorted"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names missing attributes: {missing}"


def entry(run_id: str) -> UsageEntry:
    return UsageEntry(
        created=1.0,
        key="k",
        run_id=run_id,
        model="m",
        deployment="d",
        endpoint="chat",
        stream=False,
        status=200,
        prompt_tokens=3,
        completion_tokens=4,
        estimated=False,
        latency_ms=1.0,
    )


async def test_usage_log_drops_and_counts_when_full(tmp_path: Path) -> None:
    log = UsageLog(connect(tmp_path / "db.sqlite3"), queue_limit=2)
    for index in range(5):
        log.add(entry(f"r{index}"))
    result = await log.query()
    assert (result.totals.requests, result.dropped) == (2, 3)
    assert result.totals.total_tokens == 14


async def test_usage_log_filters_by_run_and_since(tmp_path: Path) -> None:
    log = UsageLog(connect(tmp_path / "db.sqlite3"))
    for run in ("a", "a", "b"):
        log.add(entry(run))
    assert (await log.query(run_id="a")).totals.requests == 2
    assert (await log.query(since=2.0)).totals.requests == 0
    assert [r.run_id for r in (await log.query(limit=1)).data] == ["b"]


def test_database_is_created_with_both_tables(tmp_path: Path) -> None:
    connect(tmp_path / "sub" / "db.sqlite3")
    tables = {
        r[0]
        for r in sqlite3.connect(tmp_path / "sub" / "db.sqlite3").execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
    }
    assert {"api_keys", "usage_log"} <= tables


async def test_usage_log_sums_per_group(tmp_path: Path) -> None:
    log = UsageLog(connect(tmp_path / "db.sqlite3"))
    for run in ("a", "a", "b"):
        log.add(entry(run))
    result = await log.query(group_by="run_id")
    assert [(g.value, g.requests, g.total_tokens) for g in result.groups or []] == [("a", 2, 14), ("b", 1, 7)]
    assert (await log.query()).groups is None


def test_old_database_gains_the_cost_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE usage_log (id INTEGER PRIMARY KEY, created REAL NOT NULL, key TEXT NOT NULL, run_id TEXT, "
        "model TEXT NOT NULL, deployment TEXT NOT NULL, endpoint TEXT NOT NULL, stream INTEGER NOT NULL, "
        "status INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, "
        "estimated INTEGER NOT NULL, latency_ms REAL NOT NULL)"
    )
    old.commit()
    old.close()
    columns = {row[1] for row in connect(path).execute("PRAGMA table_info(usage_log)")}
    assert "cost_usd" in columns
