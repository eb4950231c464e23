"""Benchmark: what one span of a run costs in CPU, stage by stage, in one process.

Run on demand:  .venv/bin/python tests/bench/bench_span_cost.py [--spans N] [--rounds R]

The agent-run benchmark measures tracing's cost on the whole mesh; this one says where a span's
share of it goes. Each mode runs in a process of its own (the standard variables choose what
tracing does at start-up) and opens the spans a model step opens (``run_trace.span`` with the
``chat`` attributes, then the answer's), flushing the batch processor every 500 spans so none
is dropped. CPU is the process's, all threads included (the batch processor exports in its own):

- ``off``: ``OTEL_SDK_DISABLED=true``, no tracer provider at all;
- ``no exporter``: spans get ids but record nothing (the default);
- ``recorded``: spans are recorded and batched, and the exporter drops them;
- ``encoded``: as above, and the exporter encodes them with the official OTLP encoder;
- ``OTLP export``: the official OTLP/HTTP exporter, posting to a receiver in this process.

Figures are medians over the rounds (the modes of a round run one after the other); each
stage's cost is its median minus the previous stage's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "orchestrator")]

MODES = ("off", "no exporter", "recorded", "encoded", "OTLP export")
SPANS_PER_RUN = 69.3
"""Spans an offline run of five tasks reports (the agent-run benchmark counts them)."""
FLUSH_EVERY = 500


def _child(mode: str, spans: int) -> None:
    """Open ``spans`` spans as model steps do and print the CPU microseconds per span."""
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExportResult
    from opentelemetry.trace import SpanKind

    def drop(self: OTLPSpanExporter, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def encode_only(self: OTLPSpanExporter, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        encode_spans(spans).SerializeToString()
        return SpanExportResult.SUCCESS

    if mode in ("recorded", "encoded"):  # the exporter the settings make, minus what these modes leave out
        OTLPSpanExporter.export = drop if mode == "recorded" else encode_only  # type: ignore[method-assign]

    from agent_loop import run_trace, telemetry

    telemetry.configure_telemetry()
    provider = trace.get_tracer_provider()
    answer = {"model": "m", "usage": {"prompt_tokens": 900, "completion_tokens": 40, "cost_usd": 0.0012},
              "finish_reason": "tool_calls", "tool_calls": [{}]}  # fmt: skip

    def step(n: int) -> None:
        run_id = f"run-{n % 20}"
        attributes = run_trace.chat_attributes(run_id, "execute_task", "default", [])
        with run_trace.span("chat default", run_id=run_id, key=f"s{n}", kind=SpanKind.CLIENT,
                            attributes=attributes) as opened:  # fmt: skip
            run_trace.record_answer(opened, answer)

    def flush() -> None:
        if isinstance(provider, TracerProvider):
            provider.force_flush()

    for n in range(FLUSH_EVERY):  # warm up: imports, first export, connection
        step(n)
    flush()
    started = time.process_time()
    for n in range(spans):
        step(n)
        if n % FLUSH_EVERY == FLUSH_EVERY - 1:
            flush()
    flush()
    used = time.process_time() - started
    print(json.dumps({"mode": mode, "us_per_span": used / spans * 1e6}))


def _environment(mode: str, endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "APPLICATIONINSIGHTS_"))}
    if mode == "off":
        env["OTEL_SDK_DISABLED"] = "true"
    elif mode != "no exporter":
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    return env


def _measure(mode: str, spans: int, endpoint: str) -> float:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--spans", str(spans)],
        env=_environment(mode, endpoint), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"mode {mode!r} failed: {done.stderr[-2000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["us_per_span"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=5000, help="spans per mode and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.spans)
        return

    from tests.support.otlp_receiver import start_otlp_receiver

    receiver = start_otlp_receiver()
    try:
        figures: dict[str, list[float]] = {mode: [] for mode in MODES}
        for round_number in range(args.rounds):
            print(f"  ... round {round_number + 1} of {args.rounds}", file=sys.stderr)
            for mode in MODES:
                figures[mode].append(_measure(mode, args.spans, receiver.endpoint))
    finally:
        receiver.stop()
    medians = {mode: statistics.median(values) for mode, values in figures.items()}
    print(f"\nCPU per span, {args.spans} model-step spans per mode, median of {args.rounds} rounds (all threads):")
    previous: float | None = None
    for mode in MODES:
        stage = "" if previous is None else f"  stage +{medians[mode] - previous:6.1f} us"
        rounds = ", ".join(f"{value:.0f}" for value in figures[mode])
        print(f"  {mode:<12} {medians[mode]:7.1f} us{stage}   (rounds: {rounds})")
        previous = medians[mode]
    extra = medians["OTLP export"] - medians["off"]
    print(
        f"  OTLP export costs {extra:.0f} us per span over off: {extra * SPANS_PER_RUN / 1000:.1f} ms CPU per run at "
        f"{SPANS_PER_RUN} spans per run, before the services' own server spans are made"
    )


if __name__ == "__main__":
    main()
