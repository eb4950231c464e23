"""Latency of the tool services over loopback HTTP, and FTS5 search against a LIKE scan.

Run on demand: ``.venv/bin/python tests/tools/bench_tools.py``. Each figure is a median
(p50) and p95 in milliseconds, with its ratio to a baseline measured in the same run:
``GET /healthz`` on the same server for HTTP calls (the cost of HTTP, auth-free and
database-free), and a ``LIKE '%word%'`` scan of the same table for search.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.servers import start_uvicorn  # noqa: E402

KEY = "bench-key"
WORDS = (
    "budget invoice chair order train lyon milk report meeting deadline supplier quote refund "
    "shipping warehouse contract renewal laptop printer coffee"
).split()


def _measure(call: Callable[[], object], n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def _report(name: str, result: tuple[float, float], baseline: float) -> None:
    print(f"{name:<38} p50 {result[0]:8.2f} ms   p95 {result[1]:8.2f} ms   x{result[0] / baseline:6.2f}")


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def bench_http(tmp: Path, n: int) -> None:
    rng = random.Random(7)
    notes = start_uvicorn(
        "tools.notes.main:app",
        log_path=tmp / "notes.log",
        env={"NOTES_API_KEY": KEY, "NOTES_DB": str(tmp / "notes.sqlite3"), "NOTES_LOG_LEVEL": "WARNING"},
    )
    calc = start_uvicorn(
        "tools.calc.main:app",
        log_path=tmp / "calc.log",
        env={"CALC_API_KEY": KEY, "CALC_DB": str(tmp / "calc.sqlite3"), "CALC_LOG_LEVEL": "WARNING"},
    )
    try:
        with (
            httpx.Client(base_url=notes.url, headers={"X-API-Key": KEY}) as http,
            httpx.Client(base_url=calc.url, headers={"X-API-Key": KEY}) as calc_http,
        ):
            baseline = _measure(lambda: http.get("/healthz"), n)
            print(f"HTTP, {n} calls each; ratio to GET /healthz on the same server")
            _report("GET /healthz (baseline)", baseline, baseline[0])
            _report(
                "createNote",
                _measure(
                    lambda: http.post(
                        "/notes",
                        json={
                            "title": _text(rng, 4),
                            "content": _text(rng, 60),
                            "tags": ["bench"],
                            "run_id": "bench",
                        },
                    ),
                    n,
                ),
                baseline[0],
            )
            counter = iter(range(10**9))
            _report(
                "createNote + new Idempotency-Key",
                _measure(
                    lambda: http.post(
                        "/notes",
                        json={"title": "t", "content": _text(rng, 60)},
                        headers={"Idempotency-Key": f"k-{next(counter)}"},
                    ),
                    n,
                ),
                baseline[0],
            )
            http.post("/notes", json={"title": "replayed"}, headers={"Idempotency-Key": "same"})
            _report(
                "createNote replayed (same key)",
                _measure(
                    lambda: http.post(
                        "/notes", json={"title": "replayed"}, headers={"Idempotency-Key": "same"}
                    ),
                    n,
                ),
                baseline[0],
            )
            _report(
                f"searchNotes over {3 * n} notes",
                _measure(
                    lambda: http.get(
                        "/notes/search", params={"q": f"{rng.choice(WORDS)} {rng.choice(WORDS)}"}
                    ),
                    n,
                ),
                baseline[0],
            )
            _report(
                "listNotes (run filter, 20)",
                _measure(lambda: http.get("/notes", params={"run_id": "bench"}), n),
                baseline[0],
            )
            calc_base = _measure(lambda: calc_http.get("/healthz"), n)
            _report(
                "evaluateExpression 12 * 49.90",
                _measure(lambda: calc_http.post("/evaluate", json={"expression": "12 * 49.90"}), n),
                calc_base[0],
            )
            _report(
                "evaluateExpression (30 operators)",
                _measure(
                    lambda: calc_http.post(
                        "/evaluate", json={"expression": " + ".join(f"{i}.5 * {i} / 7" for i in range(10))}
                    ),
                    n,
                ),
                calc_base[0],
            )
            _report(
                "convertUnits 10 mile -> km",
                _measure(
                    lambda: calc_http.post(
                        "/convert", json={"value": "10", "from_unit": "mile", "to_unit": "km"}
                    ),
                    n,
                ),
                calc_base[0],
            )
    finally:
        notes.stop()
        calc.stop()


def bench_search(tmp: Path, rows: int, n: int) -> None:
    """Ranked FTS5 search against a LIKE scan that only finds the matches (no ranking)."""
    from tools.notes.database import Database
    from tools.notes.store import NoteStore

    rng = random.Random(11)
    vocabulary = [f"{rng.choice(WORDS)[:4]}{i}" for i in range(2000)]
    db = Database(tmp / "search.sqlite3")
    store = NoteStore(db)
    for _ in range(rows):
        title, content = " ".join(rng.choices(vocabulary, k=4)), " ".join(rng.choices(vocabulary, k=80))
        store.create(title=title, content=content, tags=[], run_id=None)

    def like_scan() -> object:
        word = f"%{rng.choice(vocabulary)}%"
        with db.transaction() as conn:
            query = "SELECT id FROM notes WHERE title LIKE ? OR content LIKE ?"
            return conn.execute(query, (word, word)).fetchall()

    def ranked(words: int) -> object:
        text = " ".join(rng.choices(vocabulary, k=words))
        return store.search(text, run_id=None, tag=None, limit=10, offset=0)

    print(
        f"\nIn process, {rows} notes over a {len(vocabulary)}-word vocabulary, {n} queries;"
        " ratio to a LIKE scan returning every match, unranked"
    )
    baseline = _measure(like_scan, n)
    _report("LIKE '%word%' scan (baseline)", baseline, baseline[0])
    _report("FTS5 BM25 ranked search, top 10", _measure(lambda: ranked(1), n), baseline[0])
    _report("FTS5 BM25 ranked, 2 words, top 10", _measure(lambda: ranked(2), n), baseline[0])
    db.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        bench_http(Path(folder), n=int(sys.argv[1]) if len(sys.argv) > 1 else 300)
        bench_search(Path(folder), rows=20_000, n=200)
