"""The catalog snapshot runs share: reused while fresh, rebuilt once when stale, new at a registry change."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from agent_loop.catalog_source import CatalogSnapshot
from openapi_engine import Catalog


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _catalog() -> Catalog:
    return Catalog(tools={}, functions=[], problems=[])


def _counting(reads: list[int]) -> Callable[[], Catalog]:
    def read() -> Catalog:
        reads.append(1)
        return _catalog()

    return read


def test_a_fresh_snapshot_is_reused_without_reading_again() -> None:
    clock, reads = Clock(), list[int]()
    snapshot = CatalogSnapshot(clock=clock)
    first = snapshot.get("reg:1", 5.0, _counting(reads))
    clock.now += 4.9
    again = snapshot.get("reg:1", 5.0, _counting(reads))
    assert again is first and len(reads) == 1


def test_a_snapshot_older_than_the_ttl_is_read_again() -> None:
    clock, reads = Clock(), list[int]()
    snapshot = CatalogSnapshot(clock=clock)
    first = snapshot.get("reg:1", 5.0, _counting(reads))
    clock.now += 5.0
    assert snapshot.fresh("reg:1", 5.0) is None
    again = snapshot.get("reg:1", 5.0, _counting(reads))
    assert again is not first and len(reads) == 2


def test_a_changed_registry_is_read_at_once_even_within_the_ttl() -> None:
    clock = Clock()
    snapshot = CatalogSnapshot(clock=clock)
    first = snapshot.get("reg:1", 5.0, _catalog)
    assert snapshot.fresh("reg:2", 5.0) is None
    assert snapshot.get("reg:2", 5.0, _catalog) is not first


def test_a_zero_ttl_reads_every_time() -> None:
    reads: list[int] = []
    snapshot = CatalogSnapshot()
    for _ in range(3):
        snapshot.get("reg:1", 0.0, _counting(reads))
    assert len(reads) == 3


def test_many_threads_asking_for_a_stale_snapshot_read_it_once() -> None:
    reads: list[int] = []

    def slow_read() -> Catalog:
        reads.append(1)
        time.sleep(0.1)
        return _catalog()

    snapshot = CatalogSnapshot()
    results: list[Catalog] = []
    threads = [
        threading.Thread(target=lambda: results.append(snapshot.get("reg:1", 5.0, slow_read))) for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reads) == 1
    assert len(results) == 20 and all(r is results[0] for r in results)


def test_a_failed_read_leaves_no_snapshot_behind() -> None:
    snapshot = CatalogSnapshot()

    def broken() -> Catalog:
        raise RuntimeError("registry unreadable")

    try:
        snapshot.get("reg:1", 5.0, broken)
    except RuntimeError:
        pass
    assert snapshot.fresh("reg:1", 5.0) is None
    assert snapshot.get("reg:1", 5.0, _catalog) is not None
