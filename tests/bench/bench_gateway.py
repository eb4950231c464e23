"""Benchmark: direct to the fake upstream vs through toolmesh's gateway vs through LiteLLM's proxy.

Run with ``.venv/bin/python tests/bench/bench_gateway.py`` (``--help`` for options). All three
paths hit the same fake OpenAI-compatible upstream (tests/support/fake_openai.py) in the same
run, each server one process, one worker. LiteLLM's proxy (litellm[proxy]==1.102.4) is
installed by this script into its own venv under build/bench-venvs/ (it pins openai<3, so it
cannot share the project's environment).

Reported, per path, non-streaming and streaming:
- sequential requests: p50 / p90 / p99 latency and the latency added over direct (p50, p99);
  streams also report time to first byte;
- concurrency N (default 32): requests per second, p50 / p99, errors.
Both kinds of samples are interleaved across paths in rounds, so drift on a shared machine hits
every path alike. Figures are ratios against the same-run baseline, not absolute claims.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from tests.support.servers import RunningServer, free_port, start_uvicorn, wait_until_healthy  # noqa: E402

LITELLM_VERSION = "1.102.4"
LITELLM_VENV = REPO_ROOT / "build" / "bench-venvs" / f"litellm-{LITELLM_VERSION}"
MODEL = "fake-gpt"
KEY = "sk-bench-client"
BODY: dict[str, Any] = {
    "model": MODEL,
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Say hello to the benchmark."},
    ],
}


@dataclass
class Samples:
    latencies: list[float] = field(default_factory=list)
    first_bytes: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (Linux /proc), in MB; NaN elsewhere."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return kb / 1024 + sum(rss_mb(int(child)) for child in children if child.isdigit())


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def ensure_litellm() -> Path:
    """The LiteLLM proxy's own venv, created on first use."""
    litellm = LITELLM_VENV / "bin" / "litellm"
    if litellm.exists():
        return litellm
    print(f"creating {LITELLM_VENV} with litellm[proxy]=={LITELLM_VERSION} (one-off, takes a few minutes)")
    subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
    subprocess.run(
        [str(LITELLM_VENV / "bin" / "pip"), "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"], check=True
    )
    return litellm


def start_litellm(upstream: RunningServer, workdir: Path) -> RunningServer:
    litellm = ensure_litellm()
    config = workdir / "litellm.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model_list": [
                    {
                        "model_name": MODEL,
                        "litellm_params": {
                            "model": f"openai/{MODEL}",
                            "api_base": f"{upstream.url}/v1",
                            "api_key": "sk-fake-upstream",
                        },
                    }
                ],
                "litellm_settings": {
                    "num_retries": 0,
                    "request_timeout": 30,
                    "callbacks": [],
                    "telemetry": False,
                },
                "general_settings": {"master_key": KEY},
            }
        )
    )
    port = free_port()
    log_path = workdir / "litellm.log"
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                str(litellm),
                "--config",
                str(config),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--num_workers",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
        )
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(url + "/health/liveliness", process, log_path, timeout=180)
    return RunningServer(url=url, port=port, process=process, log_path=log_path)


def start_gateway(upstream: RunningServer, workdir: Path) -> RunningServer:
    config = workdir / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "models": {
                    MODEL: {
                        "deployments": [
                            {
                                "provider": "openai",
                                "base_url": f"{upstream.url}/v1",
                                "api_key": "sk-fake-upstream",
                                "model": MODEL,
                            }
                        ]
                    }
                },
                "retry": {"max_retries": 0},
            }
        )
    )
    env = {
        "TOOLMESH_GATEWAY_CONFIG": str(config),
        "TOOLMESH_GATEWAY_DB": str(workdir / "gateway.sqlite3"),
        "TOOLMESH_GATEWAY_API_KEYS": KEY,
    }
    return start_uvicorn("llm_gateway.main:app", log_path=workdir / "gateway.log", env=env)


async def one(session: aiohttp.ClientSession, url: str, stream: bool, samples: Samples) -> None:
    body = {**BODY, "stream": True, "stream_options": {"include_usage": True}} if stream else BODY
    started = time.perf_counter()
    try:
        async with session.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"}) as response:
            if response.status != 200:
                samples.errors += 1
                await response.read()
                return
            if stream:
                first = True
                tail = b""
                async for chunk in response.content.iter_any():
                    if first:
                        samples.first_bytes.append((time.perf_counter() - started) * 1000)
                        first = False
                    tail = (tail + chunk)[-64:]
                if b"[DONE]" not in tail:
                    samples.errors += 1
                    return
            else:
                await response.read()
    except aiohttp.ClientError:
        samples.errors += 1
        return
    samples.latencies.append((time.perf_counter() - started) * 1000)


async def sequential(targets: dict[str, str], stream: bool, requests: int, rounds: int) -> dict[str, Samples]:
    results = {name: Samples() for name in targets}
    async with aiohttp.ClientSession() as session:
        for url in targets.values():  # warm-up: connections, caches, lazy imports
            for _ in range(50):
                await one(session, url, stream, Samples())
        per_round = max(1, requests // rounds)
        for round_index in range(rounds):
            order = list(targets.items())
            order = order[round_index % len(order) :] + order[: round_index % len(order)]
            for name, url in order:
                for _ in range(per_round):
                    await one(session, url, stream, results[name])
    return results


async def concurrent(
    targets: dict[str, str], stream: bool, requests: int, concurrency: int, rounds: int
) -> dict[str, Samples]:
    """Closed-loop load: ``concurrency`` workers per path, paths interleaved in rounds."""
    results = {name: Samples() for name in targets}
    connector = aiohttp.TCPConnector(limit=concurrency * len(targets))
    async with aiohttp.ClientSession(connector=connector) as session:
        for url in targets.values():
            await asyncio.gather(*(one(session, url, stream, Samples()) for _ in range(concurrency)))
        per_round = max(concurrency, requests // rounds)
        for round_index in range(rounds):
            order = list(targets.items())
            order = order[round_index % len(order) :] + order[: round_index % len(order)]
            for name, url in order:
                remaining = [per_round]
                samples = results[name]

                async def worker(url: str = url, samples: Samples = samples, remaining: list[int] = remaining) -> None:
                    while remaining[0] > 0:
                        remaining[0] -= 1
                        await one(session, url, stream, samples)

                started = time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(concurrency)))
                samples.seconds += time.perf_counter() - started
    return results


def report_sequential(title: str, results: dict[str, Samples], stream: bool) -> None:
    base = results["direct"]
    print(f"\n{title}")
    header = f"{'path':<10} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'added p50':>10} {'added p99':>10}"
    print(header + (f" {'TTFB p50':>9}" if stream else "") + f" {'errors':>7}")
    for name, samples in results.items():
        line = (
            f"{name:<10} {pct(samples.latencies, 50):8.2f} {pct(samples.latencies, 90):8.2f} "
            f"{pct(samples.latencies, 99):8.2f} "
            f"{pct(samples.latencies, 50) - pct(base.latencies, 50):+10.2f} "
            f"{pct(samples.latencies, 99) - pct(base.latencies, 99):+10.2f}"
        )
        if stream:
            line += f" {pct(samples.first_bytes, 50):9.2f}"
        print(line + f" {samples.errors:7d}")


def report_concurrent(title: str, results: dict[str, Samples]) -> None:
    print(f"\n{title}")
    print(f"{'path':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs litellm':>11}")
    litellm = results.get("litellm")
    litellm_rps = len(litellm.latencies) / litellm.seconds if litellm and litellm.seconds else None
    for name, samples in results.items():
        rps = len(samples.latencies) / samples.seconds if samples.seconds else 0.0
        ratio = f"{rps / litellm_rps:10.2f}x" if litellm_rps else f"{'-':>11}"
        print(
            f"{name:<10} {rps:8.1f} {pct(samples.latencies, 50):8.2f} {pct(samples.latencies, 99):8.2f} "
            f"{samples.errors:7d} {ratio}"
        )


async def measure(targets: dict[str, str], args: argparse.Namespace) -> None:
    for stream in (False, True):
        kind = "streaming" if stream else "non-streaming"
        seq = await sequential(targets, stream, args.requests, args.rounds)
        report_sequential(
            f"sequential, {kind}: {args.requests} requests per path in {args.rounds} interleaved rounds",
            seq,
            stream,
        )
        conc = await concurrent(targets, stream, args.concurrent_requests, args.concurrency, args.rounds)
        report_concurrent(
            f"concurrency {args.concurrency}, {kind}: {args.concurrent_requests} requests per path in "
            f"{args.rounds} interleaved rounds",
            conc,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="sequential requests per path")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds for sequential requests")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--concurrent-requests", type=int, default=3000, help="requests per path under load")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="upstream latency to simulate")
    parser.add_argument("--skip-litellm", action="store_true", help="compare direct and toolmesh only")
    args = parser.parse_args()
    servers: list[RunningServer] = []
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as folder:
        workdir = Path(folder)
        try:
            upstream = start_uvicorn(
                "tests.support.fake_openai:app",
                log_path=workdir / "fake.log",
                env={"FAKE_OPENAI_RECORD": "0", "FAKE_OPENAI_LATENCY_MS": str(args.latency_ms)},
            )
            servers.append(upstream)
            gateway = start_gateway(upstream, workdir)
            servers.append(gateway)
            targets = {
                "direct": f"{upstream.url}/v1/chat/completions",
                "toolmesh": f"{gateway.url}/v1/chat/completions",
            }
            if not args.skip_litellm:
                litellm = start_litellm(upstream, workdir)
                servers.append(litellm)
                targets["litellm"] = f"{litellm.url}/v1/chat/completions"
            print(
                f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, "
                f"upstream latency {args.latency_ms} ms; "
                f"one process per server; paths: {', '.join(targets)}"
            )
            asyncio.run(measure(targets, args))
            names = ["direct", "toolmesh", "litellm"]
            memory = ", ".join(
                f"{name} {rss_mb(server.process.pid):.0f} MB" for name, server in zip(names, servers, strict=False)
            )
            print(f"\nresident memory after the run: {memory}")
        finally:
            for server in reversed(servers):
                server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
