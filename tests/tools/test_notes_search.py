"""Run-scoped search gives exactly what a scan of the whole index would: same hits, order,
relevance, snippets and totals, whatever the page and however runs interleave."""

from __future__ import annotations

import random

import pytest

from tools.notes.store import NoteStore, fts_query
from tools.service_kit.database import Database

WORDS = "budget train lyon milk report quote refund the a of and order supplier price".split()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> NoteStore:
    rng = random.Random(5)
    notes = NoteStore(Database(tmp_path_factory.mktemp("search") / "notes.sqlite3"))
    for i in range(400):
        notes.create(
            title=" ".join(rng.choices(WORDS, k=4)),
            content=" ".join(rng.choices(WORDS, k=rng.randint(0, 30))),
            tags=["even" if i % 2 == 0 else "odd"],
            run_id=f"run-{rng.randrange(12)}" if i % 7 else None,
        )
    return notes


def _unbounded(
    store: NoteStore, text: str, run_id: str, limit: int, offset: int
) -> tuple[list[tuple[object, ...]], int]:
    """The search without the rowid range: the whole index joined with the run's notes."""
    base = "FROM notes_fts JOIN notes n ON n.seq = notes_fts.rowid WHERE notes_fts MATCH ? AND n.run_id = ?"
    with store._db.transaction() as conn:
        rows = conn.execute(
            f"SELECT n.id, round(-bm25(notes_fts, 4.0, 1.0, 2.0), 6) AS score,"
            f" snippet(notes_fts, 1, '[', ']', '…', 16) {base}"
            " ORDER BY bm25(notes_fts, 4.0, 1.0, 2.0), n.seq DESC LIMIT ? OFFSET ?",
            (fts_query(text), run_id, limit, offset),
        ).fetchall()
        total = conn.execute(f"SELECT COUNT(*) {base}", (fts_query(text), run_id)).fetchone()[0]
    return [tuple(row) for row in rows], int(total)


@pytest.mark.parametrize("limit, offset", [(5, 0), (1, 0), (3, 2), (100, 0), (5, 500), (4, 30)])
def test_run_search_matches_an_unbounded_scan_for_any_page(store: NoteStore, limit: int, offset: int) -> None:
    rng = random.Random(limit * 1000 + offset)
    for _ in range(30):
        text, run_id = " ".join(rng.choices(WORDS, k=rng.randint(1, 4))), f"run-{rng.randrange(13)}"
        hits, total = store.search(text, run_id=run_id, tag=None, limit=limit, offset=offset)
        expected_rows, expected_total = _unbounded(store, text, run_id, limit, offset)
        got = [(h.note.id, h.relevance, h.snippet if h.snippet != h.note.title else None) for h in hits]
        assert [(i, r) for i, r, _ in got] == [(row[0], row[1]) for row in expected_rows]
        assert all(s is None or s == row[2] for (_, _, s), row in zip(got, expected_rows, strict=True))
        assert total == expected_total


def test_search_in_a_run_without_notes_finds_nothing(store: NoteStore) -> None:
    assert store.search("budget", run_id="no-such-run", tag=None, limit=5, offset=0) == ([], 0)


def test_search_with_run_and_tag_counts_only_notes_with_both(store: NoteStore) -> None:
    hits, total = store.search("budget train", run_id="run-3", tag="even", limit=2, offset=0)
    everything, _ = store.search("budget train", run_id="run-3", tag=None, limit=100, offset=0)
    expected = [h for h in everything if "even" in h.note.tags]
    assert total == len(expected) and [h.note.id for h in hits] == [h.note.id for h in expected[:2]]
