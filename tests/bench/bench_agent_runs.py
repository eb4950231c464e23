"""Many agent runs at once on the local host: throughput, and what the mesh adds to a run's time.

Two measurements, each against a baseline taken in the same process run:

1. Offline provider, ``--runs`` concurrent runs of ``--tasks`` tasks each (every task calls the
   calc tool): runs per minute, against one run alone.
2. A model that takes ``--latency-ms`` per call (the fake OpenAI upstream behind the gateway's
   openai provider): a run's overhead is its wall time minus the time its model calls must take
   (calls x latency). Reported as a share of wall time, for one run alone and for ``--runs`` at
   once. The goal is an overhead share under 5 %.

Run: ``.venv/bin/python tests/bench/bench_agent_runs.py [--runs 200] [--tasks 5] [--latency-ms 500]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path[:0] = [
    str(Path(__file__).resolve().parents[2]),
    str(Path(__file__).resolve().parents[2] / "orchestrator"),
]

from tests.support.local_mesh import FINISHED, Mesh, start_mesh  # noqa: E402
from tests.support.servers import start_uvicorn  # noqa: E402


def _body(tasks: int, model: str, index: int) -> dict[str, Any]:
    return {
        "objective": f"Benchmark run {index}",
        "initial_tasks": [f"Calculate {index} + {t}" for t in range(tasks)],
        "model": model,
        "tools": ["math"],
        "budgets": {"max_iterations": tasks},
    }


def _run_batch(mesh: Mesh, count: int, tasks: int, model: str) -> tuple[float, list[dict[str, Any]]]:
    """Start ``count`` runs at once, wait for all; returns wall seconds and each run's final view."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=32) as pool:
        ids = list(pool.map(lambda i: mesh.start_run(_body(tasks, model, i)), range(count)))
    pending = set(ids)
    with mesh.api(timeout=120) as api:
        while pending:
            time.sleep(0.5)
            listed = api.get("/api/runs", params={"limit": 1000}).json()
            pending -= {r["id"] for r in listed if r["status"] in FINISHED}
        wall = time.perf_counter() - started
        views = [api.get(f"/api/runs/{run_id}").json() for run_id in ids]
    return wall, views


def _run_seconds(view: dict[str, Any]) -> float:
    """From the run's first episode to its last, by the orchestration's own (sub-second) clock."""
    report = view["output"]
    return (
        datetime.fromisoformat(report["finished_at"]) - datetime.fromisoformat(report["started_at"])
    ).total_seconds()


def _overheads(views: list[dict[str, Any]], latency: float) -> list[float]:
    shares = []
    for view in views:
        wall = _run_seconds(view)
        model_time = view["output"]["usage"]["llm_calls"] * latency
        shares.append(max(0.0, wall - model_time) / wall if wall > 0 else 0.0)
    return shares


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=5)
    parser.add_argument("--latency-ms", type=int, default=500)
    parser.add_argument("--activity-concurrency", type=int, default=400)
    args = parser.parse_args()
    latency = args.latency_ms / 1000

    root = Path(tempfile.mkdtemp(prefix="bench-agent-runs-"))
    fake = start_uvicorn(
        "tests.support.fake_openai:app", log_path=root / "fake.log", env={"FAKE_OPENAI_RECORD": "0"}
    )
    config = root / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "models": {
                    "default": {"deployments": [{"provider": "offline"}]},
                    "slow": {
                        "deployments": [
                            {
                                "provider": "openai",
                                "base_url": f"{fake.url}/v1",
                                "api_key_env": "FAKE_UPSTREAM_KEY",
                                "model": f"fake?latency_ms={args.latency_ms}",
                            }
                        ]
                    },
                },
                "limits": {"rpm": 1_000_000, "tpm": 1_000_000_000},
            }
        )
    )
    mesh = start_mesh(
        root,
        gateway_env={"TOOLMESH_GATEWAY_CONFIG": str(config), "FAKE_UPSTREAM_KEY": "bench"},
        host_env={"TOOLMESH_ACTIVITY_CONCURRENCY": str(args.activity_concurrency)},
    )
    try:
        print(f"agent runs on the local host: {args.runs} runs x {args.tasks} tasks", flush=True)
        one_wall, one = _run_batch(mesh, 1, args.tasks, "default")
        many_wall, many = _run_batch(mesh, args.runs, args.tasks, "default")
        failed = [v["id"] for v in many if v["status"] != "Completed"]
        print("\noffline provider (each task calls calc):")
        print(f"  one run alone:        {one_wall:7.2f} s   ({60 / one_wall:8.1f} runs/min)")
        print(
            f"  {args.runs} runs at once:   {many_wall:7.2f} s   ({args.runs * 60 / many_wall:8.1f} runs/min, "
            f"x{(args.runs / many_wall) / (1 / one_wall):.1f} the throughput of one run alone)"
        )
        median_run = statistics.median(_run_seconds(v) for v in many)
        print(f"  median run time: {median_run:.2f} s; failed runs: {len(failed)}")

        _, one_slow = _run_batch(mesh, 1, args.tasks, "slow")
        slow_wall, many_slow = _run_batch(mesh, args.runs, args.tasks, "slow")
        base = _overheads(one_slow, latency)[0]
        shares = _overheads(many_slow, latency)
        calls = statistics.median(v["output"]["usage"]["llm_calls"] for v in many_slow)
        slow_median = statistics.median(_run_seconds(v) for v in many_slow)
        print(f"\nmodel calls of {args.latency_ms} ms (fake upstream through the gateway), {calls:.0f} per run:")
        print(f"  one run alone:       overhead {base * 100:5.1f} % of wall time ({_run_seconds(one_slow[0]):.2f} s)")
        print(
            f"  {args.runs} runs at once:  overhead median {statistics.median(shares) * 100:5.1f} %, "
            f"p95 {_pct(shares, 0.95) * 100:5.1f} % (median run {slow_median:.2f} s; "
            f"{args.runs * 60 / slow_wall:.1f} runs/min)"
        )
        print("  goal: overhead under 5 % of a run's wall time")
    finally:
        mesh.stop()
        fake.stop()
        httpx.Client().close()


if __name__ == "__main__":
    main()
