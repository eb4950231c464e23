"""Benchmark: convert the OpenAPI corpus with toolmesh's engine and with FastMCP.

Run on demand:  .venv/bin/python tests/bench/bench_openapi.py [--runs N] [--spec NAME]

FastMCP is installed into its own virtual environment under build/bench-venvs/ (never
into the project's). Both converters get the same parsed document: parsing time is
reported apart and excluded from the conversion times. Sizes are measured the same
way for both: len(json.dumps({"type": "function", "function": {name, description,
parameters}})). Figures are medians over the runs; ratios compare the two in this run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import venv
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "orchestrator")]

from openapi_engine import convert_document  # noqa: E402
from openapi_engine.documents import parse_document, read_source  # noqa: E402

CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "openapi"
SPECS = [
    "petstore-3.0/openapi.yaml",
    "museum-3.1/openapi.yaml",
    "openai-3.1/openapi.yaml",
    "box-3.0/openapi.json",
    "twilio-3.0/twilio_api_v2010.json",
    "slack-2.0/slack_web_openapi_v2.json",
    "digitalocean-3.0-multifile/specification/DigitalOcean-public.v2.yaml",
]
FASTMCP_VERSION = "4.1.2"
VENV = REPO_ROOT / "build" / "bench-venvs" / f"fastmcp-{FASTMCP_VERSION}"

FASTMCP_SCRIPT = r"""
import asyncio, json, statistics, sys, time, warnings
warnings.filterwarnings("ignore")
import yaml, httpx2
from fastmcp import FastMCP
import logging
logging.disable(logging.CRITICAL)
path, runs = sys.argv[1], int(sys.argv[2])
text = open(path, encoding="utf-8").read()
t0 = time.perf_counter()
spec = json.loads(text) if path.endswith(".json") else yaml.load(text, Loader=yaml.CSafeLoader)
parse_s = time.perf_counter() - t0

def size_of(tool):
    return len(json.dumps({"type": "function", "function": {
        "name": tool.name, "description": tool.description or "", "parameters": tool.parameters}}))

async def once():
    client = httpx2.AsyncClient(base_url="http://127.0.0.1:9")
    started = time.perf_counter()
    mcp = FastMCP.from_openapi(openapi_spec=spec, client=client)
    tools = await mcp.list_tools()
    elapsed = time.perf_counter() - started
    await client.aclose()
    return elapsed, tools

times, tools = [], []
try:
    for _ in range(runs):
        elapsed, tools = asyncio.run(once())
        times.append(elapsed)
    print(json.dumps({"parse_s": parse_s, "times": times, "sizes": [size_of(t) for t in tools]}))
except Exception as exc:
    print(json.dumps({"parse_s": parse_s, "error": f"{type(exc).__name__}: {str(exc)[:160]}"}))
"""


def ensure_fastmcp() -> Path:
    python = VENV / "bin" / "python"
    if python.exists():
        return python
    print(f"creating {VENV} with fastmcp=={FASTMCP_VERSION} (one time)...", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"fastmcp=={FASTMCP_VERSION}", "pyyaml"],
        check=True,
    )
    return python


def stats(sizes: list[int]) -> dict[str, float]:
    if not sizes:
        return {"median": 0, "p95": 0, "max": 0}
    ordered = sorted(sizes)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median": statistics.median(ordered), "p95": p95, "max": ordered[-1]}


def ours(relative: str, runs: int) -> dict[str, Any]:
    source = str(CORPUS / relative)
    started = time.perf_counter()
    document = parse_document(read_source(source), source)
    parse_s = time.perf_counter() - started
    times = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = convert_document(document, source)
        times.append(time.perf_counter() - started)
    assert result is not None
    sizes = [
        len(json.dumps({"type": "function", "function": {"name": f.name, "description": f.description,
                                                          "parameters": f.parameters}}))
        for f in result.functions
    ]  # fmt: skip
    strict = sum(1 for f in result.functions if f.strict_parameters is not None)
    return {
        "parse_s": parse_s,
        "times": times,
        "sizes": sizes,
        "strict": strict,
        "skipped": len(result.problems),
    }


def theirs(python: Path, relative: str, runs: int) -> dict[str, Any]:
    proc = subprocess.run(
        [str(python), "-c", FASTMCP_SCRIPT, str(CORPUS / relative), str(runs)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-200:]}"}
    data: dict[str, Any] = json.loads(lines[-1])
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--spec", default="", help="only specs whose path contains this text")
    parser.add_argument("--no-fastmcp", action="store_true")
    args = parser.parse_args()
    if not CORPUS.exists():
        sys.exit(f"corpus not found at {CORPUS}")
    python = None if args.no_fastmcp else ensure_fastmcp()
    header = (
        f"{'spec':<28}{'who':<9}{'conv s':>8}{'parse s':>8}{'tools':>6}{'strict':>7}{'median':>8}{'p95':>8}{'max':>9}"
    )
    print(header)
    print("-" * len(header))
    total_ours = total_theirs = 0.0
    p95_ratios: list[float] = []
    pooled_ours: list[int] = []
    pooled_theirs: list[int] = []
    for relative in SPECS:
        if args.spec not in relative:
            continue
        name = relative.split("/")[0]
        mine = ours(relative, args.runs)
        t_mine = statistics.median(mine["times"])
        s = stats(mine["sizes"])
        print(
            f"{name[:27]:<28}{'toolmesh':<9}{t_mine:>8.3f}{mine['parse_s']:>8.2f}{len(mine['sizes']):>6}"
            f"{mine['strict']:>7}{s['median']:>8.0f}{s['p95']:>8.0f}{s['max']:>9.0f}"
        )
        if python is None:
            continue
        other = theirs(python, relative, args.runs)
        if "error" in other:
            print(f"{'':<28}{'fastmcp':<9} failed: {other['error']}")
            continue
        t_other = statistics.median(other["times"])
        o = stats(other["sizes"])
        print(
            f"{'':<28}{'fastmcp':<9}{t_other:>8.3f}{other['parse_s']:>8.2f}{len(other['sizes']):>6}"
            f"{'-':>7}{o['median']:>8.0f}{o['p95']:>8.0f}{o['max']:>9.0f}"
        )
        ratio_p95 = s["p95"] / o["p95"] if o["p95"] else float("nan")
        p95_ratios.append(ratio_p95)
        print(f"{'':<28}{'ratio':<9}{t_other / t_mine:>7.1f}x faster; p95 size {ratio_p95:.2f} of FastMCP's")
        total_ours += t_mine
        total_theirs += t_other
        pooled_ours.extend(mine["sizes"])
        pooled_theirs.extend(other["sizes"])
    if total_ours and total_theirs:
        print("-" * len(header))
        print(
            f"specs both converted: toolmesh {total_ours:.3f} s, FastMCP {total_theirs:.3f} s "
            f"-> {total_theirs / total_ours:.1f}x faster"
        )
        a, b = stats(pooled_ours), stats(pooled_theirs)
        print(
            f"tools pooled, median/p95/max: toolmesh {a['median']:.0f}/{a['p95']:.0f}/{a['max']:.0f}, "
            f"FastMCP {b['median']:.0f}/{b['p95']:.0f}/{b['max']:.0f}; "
            f"p95 {a['p95'] / b['p95']:.2f} of FastMCP's; "
            f"per-spec p95 ratios {min(p95_ratios):.2f}..{max(p95_ratios):.2f}"
        )


if __name__ == "__main__":
    main()
