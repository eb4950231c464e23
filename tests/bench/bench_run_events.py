"""Live run events: how long a streamed token takes to reach its watchers, and what streaming costs.

The whole mesh runs as processes on this machine (four tools, the gateway, the local durable
host with the embedded event channel, or Redis with ``--redis``); the model is the fake OpenAI
upstream behind the gateway, which writes the time it sends each content piece into the piece
(``stamp=1``, ``--chunks`` pieces ``--gap-ms`` apart per model step). Watchers are SSE clients of
``GET /api/runs/{id}/events`` in this process.

1. Latency: for each text delta a watcher receives, its arrival time minus the upstream's send
   time (the same clock), p50 and p99 (deltas sent before the watcher's stream was open, which
   it gets as a replay when it connects late, are counted apart), with 1, 10 and 100 watchers on one run, and with
   ``--runs`` (200) runs at once, one watcher each. The 1-watcher figure is the baseline the
   others are compared with. Goal at 200 runs: p50 under 50 ms and p99 under 250 ms.
2. CPU per run: ``--cpu-runs`` runs with streaming on (model steps streamed, events published,
   one watcher each) against the same runs on a second mesh whose host has ``TOOLMESH_EVENTS=off``
   and ``TOOLMESH_STREAM_MODEL_STEPS=false``; each round runs both batches at the same time, so
   both meet the same machine. CPU seconds of the host and the gateway per run; the figure is the
   median of the rounds' ratios. Goal: streaming adds under 15 %.

Nothing is asserted: figures are printed.

Run: ``.venv/bin/python tests/bench/bench_run_events.py [--runs 200] [--chunks 20] [--gap-ms 50]
[--cpu-runs 20] [--rounds 3] [--redis]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path[:0] = [
    str(Path(__file__).resolve().parents[2]),
    str(Path(__file__).resolve().parents[2] / "orchestrator"),
]

from tests.bench import _cpu  # noqa: E402
from tests.support import redis_server  # noqa: E402
from tests.support.local_mesh import Mesh, mesh_with_fake_upstream  # noqa: E402

GOAL_P50, GOAL_P99, GOAL_CPU = 0.050, 0.250, 0.15


def _request() -> dict[str, Any]:
    return {"objective": "Stream", "initial_tasks": ["Stream some tokens"], "tools": [], "model": "stamp"}


async def _watch(
    client: httpx.AsyncClient, url: str, key: str, delays: list[float], replayed: list[float] | None = None
) -> int:
    """Follow one run to its end; each stamped delta's delay goes to ``delays``. Returns events seen.

    With ``replayed``, the delays of deltas sent before the watcher's stream was open go there
    instead: their delay is how late the watcher came, not how fast the stream is.
    """
    seen = 0
    async with client.stream("GET", url, headers={"x-functions-key": key}) as response:
        response.raise_for_status()
        opened = time.time()
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            now = time.time()
            seen += 1
            event = json.loads(line[5:])
            if event.get("type") == "TEXT_MESSAGE_CONTENT" and event["delta"].startswith("["):
                for stamp in event["delta"].strip("[]").split("]["):
                    sent = float(stamp)
                    (replayed if replayed is not None and sent < opened else delays).append(now - sent)
    return seen


async def _batch(mesh: Mesh, runs: int, watchers: int) -> tuple[list[float], list[float], float]:
    """Start ``runs`` runs, each followed by ``watchers`` watchers from the moment its start is
    answered; (live delays, replayed delays, wall seconds)."""
    key = mesh.keys["functions"]
    delays: list[float] = []
    replayed: list[float] = []
    limits = httpx.Limits(max_connections=runs * watchers + 50, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=mesh.url, timeout=600, limits=limits) as client:

        async def one() -> None:
            started = await client.post("/api/runs", json=_request(), headers={"x-functions-key": key})
            url = f"/api/runs/{started.json()['id']}/events"
            await asyncio.gather(*(_watch(client, url, key, delays, replayed) for _ in range(watchers)))

        began = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(runs)))
        return delays, replayed, time.perf_counter() - began


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _pids(mesh: Mesh) -> dict[str, int]:
    assert mesh.host is not None
    return {"host": mesh.host.process.pid, "gateway": mesh.services["gateway"].process.pid}


def _load() -> str:
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _latency(
    mesh: Mesh, label: str, runs: int, watchers: int, baseline: tuple[float, float] | None
) -> tuple[float, float]:
    """One batch: its delays (p50, p99), wall time and CPU seconds per run, printed on one line."""
    before = _cpu.snapshot(_pids(mesh))
    delays, replayed, wall = asyncio.run(_batch(mesh, runs, watchers))
    used = _cpu.used(before, _cpu.snapshot(_pids(mesh)))
    p50, p99 = _percentile(delays, 0.50), _percentile(delays, 0.99)
    ratio = f" ({p50 / baseline[0]:.1f}x / {p99 / baseline[1]:.1f}x)" if baseline else ""
    print(f"  {label:<24} {len(delays):>6} deltas  p50 {p50 * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms{ratio:<17}"
          f"  wall {wall:5.1f} s  CPU per run: host {used['host'] / runs * 1000:6.1f} ms, gateway "
          f"{used['gateway'] / runs * 1000:5.1f} ms, watchers {used[_cpu.OWN] / runs * 1000:6.1f} ms; "
          f"machine busy {used[_cpu.MACHINE] / wall:.2f} cores")  # fmt: skip
    if replayed:
        late50, late99 = _percentile(replayed, 0.5), _percentile(replayed, 0.99)
        print(f"  {'':<24} {len(replayed):>6} more sent before their watcher's stream opened (replayed): "
              f"p50 {late50 * 1000:.1f} ms, p99 {late99 * 1000:.1f} ms")  # fmt: skip
    return p50, p99


async def _follow(mesh: Mesh, runs: int, watch: bool) -> None:
    """Start ``runs`` runs and poll them to their end; with ``watch``, one SSE watcher each as well."""
    key = mesh.keys["functions"]
    async with httpx.AsyncClient(base_url=mesh.url, timeout=600, headers={"x-functions-key": key}) as client:
        started = await asyncio.gather(*(client.post("/api/runs", json=_request()) for _ in range(runs)))
        ids = [r.json()["id"] for r in started]
        watching = [asyncio.ensure_future(_watch(client, f"/api/runs/{rid}/events", key, [])) for rid in ids if watch]
        pending = set(ids)
        while pending:
            await asyncio.sleep(0.25)
            views = [(await client.get(f"/api/runs/{rid}")).json() for rid in pending]
            pending -= {v["id"] for v in views if v["status"] in ("Completed", "Failed", "Terminated")}
        await asyncio.gather(*watching)


def _cpu_per_run(mesh: Mesh, runs: int, watch: bool) -> tuple[float, float, float]:
    """(host, gateway) CPU seconds per run and the wall seconds of one batch of ``runs`` runs."""
    pids = _pids(mesh)
    before = _cpu.snapshot(pids)
    started = time.perf_counter()
    asyncio.run(_follow(mesh, runs, watch))
    wall = time.perf_counter() - started
    used = _cpu.used(before, _cpu.snapshot(pids))
    return used["host"] / runs, used["gateway"] / runs, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--gap-ms", type=int, default=50)
    parser.add_argument("--cpu-runs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis", action="store_true", help="use a local redis-server as the event channel")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-run-events-") as tmp, contextlib.ExitStack() as stack:
        root = Path(tmp)
        env = {"TOOLMESH_ACTIVITY_CONCURRENCY": str(max(16, args.runs)), "TOOLMESH_EVENTS_KEEPALIVE": "5"}
        if args.redis:
            env["TOOLMESH_EVENTS"] = stack.enter_context(redis_server.redis_server(root / "redis"))
        channel = "Redis" if args.redis else "embedded"
        model = f"stamp?stamp=1&paced=1&chunks={args.chunks}&gap_ms={args.gap_ms}"
        mesh = stack.enter_context(
            mesh_with_fake_upstream(
                root / "on", {"stamp": model}, host_env=env, upstream_env={"FAKE_OPENAI_RECORD": "0"}
            )
        )
        print(f"token latency, upstream send -> watcher receive ({channel} channel, {args.chunks} tokens "
              f"{args.gap_ms} ms apart per model step, 3 model steps per run):")  # fmt: skip
        print(f"  ({_load()} before; ratios are against the 1-watcher figures)")
        asyncio.run(_batch(mesh, 1, 1))  # warm-up
        baseline = _latency(mesh, "1 run, 1 watcher", 1, 1, None)
        _latency(mesh, "1 run, 10 watchers", 1, 10, baseline)
        _latency(mesh, "1 run, 100 watchers", 1, 100, baseline)
        p50, p99 = _latency(mesh, f"{args.runs} runs, 1 watcher each", args.runs, 1, baseline)
        print(f"  goal at {args.runs} runs: p50 < {GOAL_P50 * 1000:.0f} ms "
              f"{'met' if p50 < GOAL_P50 else 'NOT met'}, p99 < {GOAL_P99 * 1000:.0f} ms "
              f"{'met' if p99 < GOAL_P99 else 'NOT met'} ({_load()})")  # fmt: skip

        print(f"\nCPU seconds per run, streaming on vs off ({args.cpu_runs} runs per batch, {args.rounds} rounds, "
              "both batches of a round at the same time):")  # fmt: skip
        off_env = {**env, "TOOLMESH_EVENTS": "off", "TOOLMESH_STREAM_MODEL_STEPS": "false"}
        off_mesh = stack.enter_context(
            mesh_with_fake_upstream(
                root / "off", {"stamp": model}, host_env=off_env, upstream_env={"FAKE_OPENAI_RECORD": "0"}
            )
        )
        asyncio.run(_follow(off_mesh, 1, watch=False))  # warm-up: a fresh host's first run pays for imports
        on_cpu: list[tuple[float, float, float]] = []
        off_cpu: list[tuple[float, float, float]] = []
        for _ in range(args.rounds):
            # Side by side, both meshes meet the same machine: a shared machine's speed drifts
            # between batches run one after another, by more than the difference measured here.
            with ThreadPoolExecutor(max_workers=2) as pool:
                on_batch = pool.submit(_cpu_per_run, mesh, args.cpu_runs, True)
                off_batch = pool.submit(_cpu_per_run, off_mesh, args.cpu_runs, False)
                on_cpu.append(on_batch.result())
                off_cpu.append(off_batch.result())
        for label, figures in (("streaming on", on_cpu), ("streaming off (baseline)", off_cpu)):
            host = statistics.median(f[0] for f in figures)
            gateway = statistics.median(f[1] for f in figures)
            wall = statistics.median(f[2] for f in figures)
            print(f"  {label:<26} host {host * 1000:7.1f} ms  gateway {gateway * 1000:7.1f} ms  "
                  f"total {(host + gateway) * 1000:7.1f} ms per run  (median batch wall {wall:.1f} s)")  # fmt: skip
        ratios = [(on[0] + on[1]) / (off[0] + off[1]) for on, off in zip(on_cpu, off_cpu, strict=True)]
        added = statistics.median(ratios) - 1
        listed = ", ".join(f"{r:.2f}" for r in ratios)
        print(f"  streaming adds {added * 100:+.1f} % CPU per run (median of the rounds' ratios: {listed}; "
              f"goal < {GOAL_CPU * 100:.0f} %: {'met' if added < GOAL_CPU else 'NOT met'}; {_load()})")  # fmt: skip


if __name__ == "__main__":
    main()
