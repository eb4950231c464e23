"""Latency of the tool services over loopback HTTP, FTS5 search against a LIKE scan, and the
notes service as the agent loop's memory under many concurrent runs.

Run on demand: ``.venv/bin/python tests/bench/bench_tools.py [N]``. Each figure is a median
(p50) and p95 in milliseconds, with its ratio to a baseline measured in the same run:
``GET /healthz`` on the same server for HTTP calls (the cost of HTTP, auth-free and
database-free), and a ``LIKE '%word%'`` scan of the same table for search.

``.venv/bin/python tests/bench/bench_tools.py memory [--runs 200] [--baseline REV]`` runs
only the memory load (see ``bench_memory``): the service's CPU per request
and the latency of each call, for the working tree and, with ``--baseline``, for the notes
service as it was at a git revision, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench._cpu import process_cpu_seconds  # noqa: E402
from tests.support.servers import REPO_ROOT, RunningServer, free_port, start_server, start_uvicorn  # noqa: E402

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
                    lambda: http.post("/notes", json={"title": "replayed"}, headers={"Idempotency-Key": "same"}),
                    n,
                ),
                baseline[0],
            )
            _report(
                f"searchNotes over {3 * n} notes",
                _measure(
                    lambda: http.get("/notes/search", params={"q": f"{rng.choice(WORDS)} {rng.choice(WORDS)}"}),
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
                    lambda: calc_http.post("/convert", json={"value": "10", "from_unit": "mile", "to_unit": "km"}),
                    n,
                ),
                calc_base[0],
            )
    finally:
        notes.stop()
        calc.stop()


def bench_search(tmp: Path, rows: int, n: int) -> None:
    """Ranked FTS5 search against a LIKE scan that only finds the matches (no ranking)."""
    from tools.notes.store import NoteStore
    from tools.service_kit.database import Database

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


# The notes service as the agent loop's memory ------------------------------------------------

PROSE = (
    "the a of to and in for on with by from as at is are be this that it check find list compare "
    "price prices supplier suppliers order orders budget report summary weekly monthly total cost "
    "costs invoice invoices train trip lyon paris hotel booking meeting notes customer customers "
    "email reply draft contract renewal laptop printer shipping delivery date dates deadline plan "
    "result results task tasks step next best cheapest option options quote quotes refund policy"
).split()


def _prose(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(PROSE) for _ in range(n))


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def _notes_server(tmp: Path, label: str, revision: str | None) -> RunningServer:
    """The notes service of the working tree, or as it was at ``revision`` (from ``git archive``)."""
    env = {"NOTES_API_KEY": KEY, "NOTES_DB": str(tmp / f"{label}.sqlite3")}
    if revision is None:
        return start_uvicorn("tools.notes.main:app", log_path=tmp / f"{label}.log", env=env)
    tree = tmp / f"tree-{label}"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "archive", revision, "tools/__init__.py", "tools/notes"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    port = free_port()
    # ``python -m`` puts the working directory first on sys.path, so this tree's ``tools`` wins.
    return start_server(
        ["-m", "uvicorn", "tools.notes.main:app", "--host", "127.0.0.1", "--port", str(port)],
        port=port,
        log_path=tmp / f"{label}.log",
        env=env,
        cwd=tree,
    )


async def _store(session: aiohttp.ClientSession, url: str, run_id: str, task_id: int, task: str, result: str) -> float:
    """What ``store_memory`` sends: a createNote with the run's Idempotency-Key."""
    body = {"title": f"Task {task_id}: {task}"[:200], "content": result, "tags": ["task-result"], "run_id": run_id}
    key = hashlib.sha256(f"toolmesh:{run_id}:memory-{task_id}".encode()).hexdigest()[:40]
    start = time.perf_counter()
    async with session.post(
        f"{url}/notes",
        data=json.dumps(body, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    ) as response:
        await response.read()
        if response.status != 201:
            raise RuntimeError(f"createNote answered {response.status}")
    return time.perf_counter() - start


async def _recall(session: aiohttp.ClientSession, url: str, run_id: str, query: str) -> float:
    """What ``recall_memory`` sends: a searchNotes within the run, five hits at most."""
    start = time.perf_counter()
    params = {"q": query[:200], "run_id": run_id, "limit": "5"}
    async with session.get(f"{url}/notes/search", params=params) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"searchNotes answered {response.status}")
    return time.perf_counter() - start


async def _agent_run(
    session: aiohttp.ClientSession, url: str, run_id: str, *, tasks: int, think: float, spread: float, seed: int
) -> tuple[list[float], list[float]]:
    """One run's memory traffic: before each task a recall, after it a store; model time between."""
    rng = random.Random(seed)
    await asyncio.sleep(rng.uniform(0, spread))
    recalls: list[float] = []
    stores: list[float] = []
    for task_id in range(1, tasks + 1):
        task = _prose(rng, rng.randint(6, 14))
        recalls.append(await _recall(session, url, run_id, task))
        await asyncio.sleep(rng.expovariate(1 / think) if think else 0)
        stores.append(await _store(session, url, run_id, task_id, task, _prose(rng, rng.randint(40, 160))))
        await asyncio.sleep(rng.expovariate(1 / think) if think else 0)
    return recalls, stores


async def _memory_load(
    url: str, pid: int, *, runs: int, tasks: int, think: float, spread: float, prefill: int, tag: str
) -> dict[str, float]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, headers={"X-API-Key": KEY}) as session:
        # Earlier runs' notes, so a search filters a run out of a shared table as it would in use.
        rng = random.Random(3)
        for start in range(0, prefill, 50):
            await asyncio.gather(
                *(
                    _store(session, url, f"old-{i // 5}", i % 5 + 1, _prose(rng, 10), _prose(rng, 100))
                    for i in range(start, min(prefill, start + 50))
                )
            )
        cpu_before, wall_before = process_cpu_seconds(pid), time.perf_counter()
        results = await asyncio.gather(
            *(
                _agent_run(session, url, f"{tag}-run-{i}", tasks=tasks, think=think, spread=spread, seed=i)
                for i in range(runs)
            )
        )
        cpu, wall = process_cpu_seconds(pid) - cpu_before, time.perf_counter() - wall_before
    recalls = [t * 1000 for r, _ in results for t in r]
    stores = [t * 1000 for _, s in results for t in s]
    requests = len(recalls) + len(stores)
    return {
        "wall_s": wall,
        "cpu_ms_per_request": cpu * 1000 / requests,
        "cpu_ms_per_run": cpu * 1000 / runs,
        "recall_p50": _percentile(recalls, 0.5),
        "recall_p90": _percentile(recalls, 0.9),
        "recall_p99": _percentile(recalls, 0.99),
        "store_p50": _percentile(stores, 0.5),
        "store_p90": _percentile(stores, 0.9),
        "store_p99": _percentile(stores, 0.99),
    }


def bench_memory(
    tmp: Path,
    *,
    runs: int,
    tasks: int,
    think_ms: float,
    spread_ms: float,
    prefill: int,
    baseline: str | None,
    rounds: int,
) -> None:
    """``runs`` agent runs at once, each recalling and storing ``tasks`` times, against the service.

    With ``baseline`` (a git revision) the notes service of that revision runs the same load in
    the same process, alternating with the working tree for ``rounds`` rounds; each figure is the
    median over the rounds and the ratio is working tree / baseline.
    """
    variants = [("baseline", baseline), ("current", None)] if baseline else [("current", None)]
    figures: dict[str, list[dict[str, float]]] = {label: [] for label, _ in variants}
    for round_index in range(rounds):
        for label, revision in variants:
            server = _notes_server(tmp, f"{label}-{round_index}", revision)
            try:
                figures[label].append(
                    asyncio.run(
                        _memory_load(
                            server.url,
                            server.process.pid,
                            runs=runs,
                            tasks=tasks,
                            think=think_ms / 1000,
                            spread=spread_ms / 1000,
                            prefill=prefill,
                            tag=f"{label}{round_index}",
                        )
                    )
                )
            finally:
                server.stop()
    print(
        f"Memory load: {runs} agent runs at once, {tasks} recalls + {tasks} stores each, "
        f"think time {think_ms} ms (exponential), starts spread over {spread_ms} ms, {prefill} earlier notes;"
        f" median of {rounds} round(s)"
    )
    names = list(figures["current"][0])
    header = f"{'':<20}" + "".join(f"{label:>12}" for label, _ in variants)
    print(header + ("     current/baseline" if baseline else ""))
    for name in names:
        values = [statistics.median(f[name] for f in figures[label]) for label, _ in variants]
        line = f"{name:<20}" + "".join(f"{v:12.2f}" for v in values)
        if baseline:
            line += f"     x{values[1] / values[0]:.2f}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="?", default="all", help="'memory' for the memory load only, or N calls")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=5)
    parser.add_argument("--think-ms", type=float, default=200.0, help="mean model time between calls")
    parser.add_argument("--spread-ms", type=float, default=1000.0, help="runs start within this time")
    parser.add_argument("--prefill", type=int, default=2000)
    parser.add_argument("--baseline", help="git revision whose notes service to compare with")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        if args.what != "memory":
            bench_http(tmp, n=int(args.what) if args.what.isdigit() else 300)
            bench_search(tmp, rows=20_000, n=200)
            print()
        bench_memory(
            tmp,
            runs=args.runs,
            tasks=args.tasks,
            think_ms=args.think_ms,
            spread_ms=args.spread_ms,
            prefill=args.prefill,
            baseline=args.baseline,
            rounds=args.rounds,
        )


if __name__ == "__main__":
    main()
