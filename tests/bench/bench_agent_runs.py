"""Many agent runs at once on the local host: throughput, and where a run's time goes under rising load.

The whole mesh runs as processes on this machine (gateway, four tools, local durable host), plus a
fake OpenAI upstream. Every figure is compared with a baseline measured in the same process run.

1. Offline provider, ``--runs`` concurrent runs of ``--tasks`` tasks each (every task calls the
   calc tool), against one run alone: runs per minute, and the orchestration's share of a run's
   time. That share comes from the run's history (``showHistory``): the union of the
   [ScheduledTime, Timestamp] intervals of its TaskCompleted/TaskFailed events is time inside
   activities (their queueing included); the rest of the execution's wall time (ExecutionStarted
   to ExecutionCompleted) is orchestration. The local host stamps TaskScheduled with the start of
   the episode that scheduled the activity, so that episode's own replay and commit fall inside
   the activity's interval: the orchestration share is mostly the wait for an episode after each
   activity completes (and before the first episode, shown apart), not the episodes' CPU time.
   A run that continued as new spans several executions and the history shows only the last, so
   for such a run only its last execution is measured (the output says how many runs that was).
2. A model that takes ``--latency-ms`` per call (the fake upstream behind the gateway's openai
   provider), swept over ``--sweep`` concurrency levels, each a fresh batch. A run's overhead is
   its wall time (the report's started_at to finished_at) minus the time its model calls must take
   (calls x latency), as a share of that wall time; the goal is under 5 %. Each level reports the
   median and p95 overhead share, split by the history into orchestration and time inside
   activities beyond their model calls; the median run wall; runs per minute; and the CPU seconds
   per run that each process used (``/proc/<pid>/stat`` before and after the batch; the host's
   activity worker processes, ``TOOLMESH_ACTIVITY_WORKERS``, are columns of their own), with the cores
   kept busy by all of them, by the busiest one and by the whole machine, and iowait
   (``/proc/stat``; the machine may be shared), which shows what saturates the two cores.

3. What tracing costs (``--tracing-rounds``, 0 to skip): the same offline batch (``--tracing-runs``
   runs at once) on three meshes that differ only in the standard OpenTelemetry variables: tracing
   off (``OTEL_SDK_DISABLED=true``), on with no exporter (spans are not recorded; trace context
   still travels and log lines still carry ids), and on with OTLP export to a receiver in this
   process (a collector's place; its CPU is this process's, not the mesh's, and it decodes what it
   got only after the batches). The figure is CPU seconds per run summed over the mesh's processes
   (host, gateway, tools), by mode and against tracing off; rounds interleave the modes and each
   mode is judged by the median of its batches, and by the median of its ratios to tracing off
   within each round. A batch's export is part of its cost: every batch, in each mode, ends 5.5 s
   after its last run, so the batch processors' export (every 5 s, the SDK's default) falls inside
   it. The offline model does no work of its own, so tracing's share here is as large as it gets;
   the goal is under 10 % more CPU per run with export on. The speed of a shared machine drifts
   between batches run one after another; with ``--tracing-side-by-side`` each round runs the three
   batches at the same time instead (on three meshes, each process's CPU counted apart), so every
   mode meets the same machine. ``--tracing-stages`` adds a fourth mesh, ``recorded only``: export
   on, but the exporter drops each batch (``span_drop/sitecustomize.py``), so its cost against
   ``OTLP export`` is what encoding and sending cost, and against ``no exporter`` what recording does.

A batch's wall time runs from its first start request to its last ExecutionCompleted (the poller,
every 0.5 s, would add up to half a second to it). Nothing is asserted: figures are printed.

A shared machine's speed can drift by 10-20 % from minute to minute, and queueing on two
cores turns that into several points of overhead at 200 runs; ``--repeat N`` runs the sweep N
times (rounds interleave the levels) and judges each level by the median of its batches' medians,
listing every batch.

Run: ``.venv/bin/python tests/bench/bench_agent_runs.py [--runs 200] [--tasks 5] [--latency-ms 500]
[--sweep 1,25,50,100,200] [--repeat 1] [--activity-concurrency 400] [--activity-workers N]
[--tracing-runs 20] [--tracing-rounds 3] [--tracing-only] [--tracing-side-by-side] [--tracing-stages]``
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

sys.path[:0] = [
    str(Path(__file__).resolve().parents[2]),
    str(Path(__file__).resolve().parents[2] / "orchestrator"),
]

from tests.bench import _cpu  # noqa: E402
from tests.support.local_mesh import Mesh, start_mesh  # noqa: E402
from tests.support.otlp_receiver import OtlpReceiver, start_otlp_receiver  # noqa: E402
from tests.support.servers import child_pids, start_uvicorn  # noqa: E402

MGMT = "/runtime/webhooks/durabletask"
ACTIVE = {"Pending", "Running", "ContinuedAsNew"}
POLL_SECONDS = 0.5
GOAL = 0.05
TASK_EVENTS = {"TaskCompleted", "TaskFailed"}
MODEL_ACTIVITY = "llm_step"
TRACING_GOAL = 0.10
SETTLE_SECONDS = 5.5
"""A batch's spans must leave within its CPU window: the batch processors export every 5 s (the
SDK's default), so each batch in every mode ends this long after its last run (the same idle time
for each); without it most of a service's export would fall after the window and go uncounted."""
OTEL_VARIABLES = (
    "OTEL_SDK_DISABLED",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
    "OTEL_BSP_SCHEDULE_DELAY",
    "TOOLMESH_BENCH_DROP_SPANS",
    "PYTHONPATH",
)


@dataclass(frozen=True, kw_only=True)
class Batch:
    """``count`` runs started at once: their final views and histories, and what the batch cost."""

    count: int
    wall: float
    views: list[dict[str, Any]]
    histories: list[list[dict[str, Any]]]
    cpu: dict[str, float]

    @property
    def finished(self) -> list[dict[str, Any]]:
        return [v for v in self.views if _completed(v)]

    @property
    def runs_per_minute(self) -> float:
        return self.count * 60 / self.wall


@dataclass(frozen=True, kw_only=True)
class TimeSplit:
    """One execution's wall time split into time inside activities and the orchestration's rest."""

    window: float
    in_activities: float
    model_calls: int
    whole_run: bool
    start_wait: float | None

    @property
    def orchestration_share(self) -> float:
        return max(0.0, self.window - self.in_activities) / self.window if self.window > 0 else 0.0

    def activity_extra_share(self, latency: float) -> float:
        """Time inside activities beyond what their model calls must take, as a share of the window."""
        extra = self.in_activities - self.model_calls * latency
        return max(0.0, extra) / self.window if self.window > 0 else 0.0


def _completed(view: dict[str, Any]) -> bool:
    return view["status"] == "Completed" and bool(view.get("output"))


def _body(tasks: int, model: str, index: int) -> dict[str, Any]:
    return {
        "objective": f"Benchmark run {index}",
        "initial_tasks": [f"Calculate {index} + {t}" for t in range(tasks)],
        "model": model,
        "tools": ["math"],
        "budgets": {"max_iterations": tasks},
    }


def _wait_until_idle(mesh: Mesh, ids: list[str]) -> None:
    """Return once none of ``ids`` is still active.

    The poller shares the two cores with the host it measures, so it stays light: it asks about
    one run at a time, in start order, and only moves on once that run has finished; while a run
    is active it asks again every 0.5 s. A listing of every active run (``GET /instances``) would
    make the host read and serialize all their statuses twice a second.
    """
    params = {"showInput": "false"}
    with mesh.api(timeout=120) as api:
        for run_id in ids:
            while True:
                response = api.get(f"{MGMT}/instances/{run_id}", params=params)
                response.raise_for_status()
                if response.json()["runtimeStatus"] not in ACTIVE:
                    break
                time.sleep(POLL_SECONDS)


def _run_batch(mesh: Mesh, pids: Mapping[str, int], count: int, tasks: int, model: str, settle: float = 0.0) -> Batch:
    """Start ``count`` runs at once, wait for all and ``settle`` s more; CPU is read before any view is fetched."""
    before = _cpu.snapshot(pids)
    started, started_at = time.perf_counter(), datetime.now(UTC)
    # One pooled client for all the starts: a client per request would spend the benchmark's own
    # CPU, which shares the two cores with what it measures, on building SSL contexts.
    with mesh.api(timeout=120) as api, ThreadPoolExecutor(max_workers=32) as pool:
        ids = list(pool.map(lambda i: mesh.start_run(_body(tasks, model, i), api), range(count)))
    _wait_until_idle(mesh, ids)
    polled_wall = time.perf_counter() - started
    time.sleep(settle)
    cpu = _cpu.used(before, _cpu.snapshot(pids))
    history_params = {"showHistory": "true", "showHistoryOutput": "false", "showInput": "false"}
    with mesh.api(timeout=120) as api:
        views = [api.get(f"/api/runs/{run_id}").json() for run_id in ids]
        histories = [
            api.get(f"{MGMT}/instances/{run_id}", params=history_params).json().get("historyEvents") or []
            for run_id in ids
        ]
    # The poller sees the end up to 0.5 s late, which would dwarf one short run: the batch ends at
    # its last ExecutionCompleted instead (the host stamps it with this machine's clock), bounded by
    # the polled wall in case the clock stepped meanwhile.
    ends = [_time(e["Timestamp"]) for h in histories for e in h if e["EventType"] == "ExecutionCompleted"]
    stamped = (max(ends) - started_at).total_seconds() if len(ends) == count else polled_wall
    wall = stamped if 0 < stamped <= polled_wall else polled_wall
    return Batch(count=count, wall=wall, views=views, histories=histories, cpu=cpu)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _run_seconds(view: dict[str, Any]) -> float:
    """From the run's first episode to its last, by the orchestration's own (sub-second) clock."""
    report = view["output"]
    return (_time(report["finished_at"]) - _time(report["started_at"])).total_seconds()


def _union_seconds(intervals: list[tuple[datetime, datetime]]) -> float:
    """Total length covered by possibly overlapping intervals (parallel activities count once)."""
    total, end = 0.0, None
    for start, stop in sorted(intervals):
        if end is None or start > end:
            total += (stop - start).total_seconds()
            end = stop
        elif stop > end:
            total += (stop - end).total_seconds()
            end = stop
    return total


def _time_split(view: dict[str, Any], history: list[dict[str, Any]]) -> TimeSplit | None:
    """Split the last execution's wall time; None when the history has no start or end."""
    starts = [e for e in history if e["EventType"] == "ExecutionStarted"]
    ends = [e for e in history if e["EventType"] == "ExecutionCompleted"]
    if not starts or not ends:
        return None
    begin, finish = _time(starts[-1]["Timestamp"]), _time(ends[-1]["Timestamp"])
    whole = view["output"].get("executions", 1) == 1
    tasks = [e for e in history if e["EventType"] in TASK_EVENTS and e.get("ScheduledTime")]
    return TimeSplit(
        window=(finish - begin).total_seconds(),
        in_activities=_union_seconds([(_time(e["ScheduledTime"]), _time(e["Timestamp"])) for e in tasks]),
        model_calls=sum(1 for e in tasks if e.get("FunctionName") == MODEL_ACTIVITY),
        whole_run=whole,
        start_wait=(_time(view["output"]["started_at"]) - begin).total_seconds() if whole else None,
    )


def _splits(batch: Batch) -> list[TimeSplit]:
    pairs = zip(batch.views, batch.histories, strict=True)
    found = [_time_split(v, h) for v, h in pairs if _completed(v)]
    return [s for s in found if s is not None]


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


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _percent(share: float, width: int) -> str:
    """A share as a percentage, or a dash when no run could be measured (NaN)."""
    return f"{'-':>{width}}  " if math.isnan(share) else f"{share * 100:{width}.1f} %"


def _failed(batch: Batch) -> int:
    return batch.count - len(batch.finished)


def _print_offline(one: Batch, many: Batch) -> None:
    print("\noffline provider (each task calls calc):")
    print(f"  one run alone:      {one.wall:7.2f} s   ({one.runs_per_minute:8.1f} runs/min)")
    print(
        f"  {many.count} runs at once: {many.wall:7.2f} s   ({many.runs_per_minute:8.1f} runs/min, "
        f"x{many.runs_per_minute / one.runs_per_minute:.1f} the throughput of one run alone)"
    )
    median_run = _median([_run_seconds(v) for v in many.finished])
    print(f"  median run time: {median_run:.2f} s; failed runs: {_failed(many)}")
    print("  where a run's time goes (from its history; median over runs):")
    print("                       execution   in activities   orchestration   of which: wait for 1st episode")
    for label, batch in (("one run alone", one), (f"{many.count} runs at once", many)):
        splits = _splits(batch)
        window = _median([s.window for s in splits])
        orch = _median([s.orchestration_share for s in splits])
        wait = _median([s.start_wait / s.window for s in splits if s.start_wait is not None and s.window > 0])
        print(
            f"  {label:<19} {window:8.2f} s   {(1 - orch) * 100:11.1f} %   {orch * 100:11.1f} %   {_percent(wait, 13)}"
        )
    all_splits = _splits(one) + _splits(many)
    partial = sum(1 for s in all_splits if not s.whole_run)
    print(
        f"  ({len(all_splits) - partial} runs had one execution and are measured whole; "
        f"{partial} continued as new and only their last execution is measured)"
    )


@dataclass(frozen=True, kw_only=True)
class Level:
    """The slow model's figures at one concurrency level."""

    batch: Batch
    overheads: list[float]
    orchestration: list[float]
    activity_extra: list[float]

    @property
    def median_overhead(self) -> float:
        return _median(self.overheads)


def _slow_level(mesh: Mesh, pids: Mapping[str, int], count: int, tasks: int, latency: float) -> Level:
    batch = _run_batch(mesh, pids, count, tasks, "slow")
    splits = _splits(batch)
    return Level(
        batch=batch,
        overheads=_overheads(batch.finished, latency),
        orchestration=[s.orchestration_share for s in splits],
        activity_extra=[s.activity_extra_share(latency) for s in splits],
    )


def _print_sweep(levels: list[Level], latency_ms: int, names: list[str]) -> None:
    calls = _median([v["output"]["usage"]["llm_calls"] for lv in levels for v in lv.batch.finished])
    print(f"\nmodel calls of {latency_ms} ms (fake upstream through the gateway), {calls:.0f} per run:")
    print("  overhead = run wall - calls x latency (report times); from the history of each execution:")
    print("  orch = time outside activities, in act. = time inside activities beyond the model calls")
    print("   runs  runs/min  run wall  overhead med   p95   orch med  in act. med  failed")
    for lv in levels:
        b = lv.batch
        print(
            f"  {b.count:5d}  {b.runs_per_minute:8.1f}  {_median([_run_seconds(v) for v in b.finished]):7.2f} s"
            f"  {lv.median_overhead * 100:10.1f} %  {_pct(lv.overheads, 0.95) * 100:4.1f} %"
            f"  {_median(lv.orchestration) * 100:7.1f} %  {_median(lv.activity_extra) * 100:9.1f} %"
            f"  {_failed(b):6d}"
        )
    print("\n  CPU seconds per run, by process; then cores busy over the batch's wall time: all of the")
    print("  processes above, the busiest one, the whole machine (others' work included) and iowait")
    print("   runs  " + "".join(f"{n:>9}" for n in names) + "      all  | busy: all  busiest       machine  iowait")
    for lv in levels:
        b = lv.batch
        total = sum(b.cpu[n] for n in names)
        busiest = max(names, key=lambda n: b.cpu[n])
        per_run = "".join(f"{b.cpu[n] / b.count:9.3f}" for n in names)
        print(
            f"  {b.count:5d}  {per_run}  {total / b.count:7.3f}  |  {total / b.wall:8.2f}"
            f"  {busiest:>7} {b.cpu[busiest] / b.wall:4.2f}  {b.cpu[_cpu.MACHINE] / b.wall:8.2f}"
            f"  {b.cpu[_cpu.IOWAIT] / b.wall:6.2f}"
        )
    print(f"  (this machine has {os.cpu_count()} cores)")
    by_count = _overheads_by_count(levels)
    medians = {count: _median(shares) for count, shares in by_count.items()}
    if any(len(shares) > 1 for shares in by_count.values()):
        print("\n  each level's batches (--repeat): median overhead of each batch, and their median")
        for count, shares in by_count.items():
            met = sum(1 for share in shares if share < GOAL)
            listed = ", ".join(f"{share * 100:.1f}" for share in shares)
            print(
                f"  {count:5d} runs: {medians[count] * 100:4.1f} % (batches: {listed} %); "
                f"under {GOAL * 100:.0f} % in {met} of {len(shares)}"
            )
    held = [str(count) for count, median in medians.items() if median < GOAL]
    missed = [str(count) for count, median in medians.items() if not median < GOAL]
    print(
        f"\ngoal (median overhead under {GOAL * 100:.0f} % of a run's wall time) on this machine: "
        f"holds at {', '.join(held) or 'no level'} concurrent runs; "
        f"missed at {', '.join(missed) or 'no level'}"
    )


def _overheads_by_count(levels: list[Level]) -> dict[int, list[float]]:
    """Each concurrency level's batch medians, in the order the levels were first run."""
    grouped: dict[int, list[float]] = {}
    for lv in levels:
        grouped.setdefault(lv.batch.count, []).append(lv.median_overhead)
    return grouped


def _gateway_config(path: Path, fake_url: str, latency_ms: int) -> None:
    slow = {
        "provider": "openai",
        "base_url": f"{fake_url}/v1",
        "api_key_env": "FAKE_UPSTREAM_KEY",
        "model": f"fake?latency_ms={latency_ms}",
    }
    config = {
        "models": {
            "default": {"deployments": [{"provider": "offline"}]},
            "slow": {"deployments": [slow]},
        },
        "limits": {"rpm": 1_000_000, "tpm": 1_000_000_000},
    }
    path.write_text(yaml.safe_dump(config))


def _workers(host_pid: int, count: int) -> dict[str, int]:
    """The host's ``count`` activity worker processes, by name: they start just after the host answers."""
    deadline = time.monotonic() + 10
    while len(found := child_pids(host_pid)) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"the host started {len(found)} activity workers, expected {count}")
        time.sleep(0.1)
    if len(found) == 1:
        return {"worker": found[0]}
    return {f"worker{n}": pid for n, pid in enumerate(found, 1)}


def _levels(text: str | None, runs: int) -> list[int]:
    if text is None:
        return [n for n in (1, 25, 50, 100) if n < runs] + [runs]
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SystemExit(f"--sweep must be comma-separated integers, got {text!r}") from None
    if not levels or min(levels) < 1:
        raise SystemExit(f"--sweep needs levels of at least 1, got {text!r}")
    return levels


@contextlib.contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    """The OpenTelemetry variables exactly as ``values`` says while a mesh starts (its processes inherit them)."""
    saved = {name: os.environ.get(name) for name in OTEL_VARIABLES}
    for name in OTEL_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


SPAN_DROP = Path(__file__).resolve().parent / "span_drop"
"""Put on a mesh's ``PYTHONPATH`` for the ``recorded only`` mode (see its ``sitecustomize``)."""


def _tracing_modes(receiver: OtlpReceiver, stages: bool) -> dict[str, dict[str, str]]:
    modes = {
        "off": {"OTEL_SDK_DISABLED": "true"},
        "no exporter": {},
        "OTLP export": {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint},
    }
    if stages:  # export's cost, less encoding and sending: the exporter drops each batch it gets
        paths = os.pathsep.join(p for p in (str(SPAN_DROP), os.environ.get("PYTHONPATH")) if p)
        modes["recorded only"] = {**modes["OTLP export"], "TOOLMESH_BENCH_DROP_SPANS": "1", "PYTHONPATH": paths}
    return modes


def _mesh_cpu_per_run(batch: Batch, names: list[str]) -> float:
    return sum(batch.cpu[name] for name in names) / batch.count


def _tracing_cost(
    root: Path, runs: int, tasks: int, rounds: int, concurrency: int, side_by_side: bool, stages: bool = False
) -> None:
    """Section 3: CPU per run with tracing off, on without an exporter and on with OTLP export."""
    receiver = start_otlp_receiver()
    meshes: dict[str, Mesh] = {}
    try:
        for mode, values in _tracing_modes(receiver, stages).items():
            with _environ(values):
                folder = root / f"tracing-{mode.replace(' ', '-')}"
                meshes[mode] = start_mesh(folder, host_env={"TOOLMESH_ACTIVITY_CONCURRENCY": str(concurrency)})
        pids = {mode: _mesh_pids(mesh) for mode, mesh in meshes.items()}
        for mode, mesh in meshes.items():
            _run_batch(mesh, pids[mode], 1, tasks, "default")  # warm up: imports, first catalog load
        spans_before = len(receiver.snapshot())
        per_run: dict[str, list[float]] = {mode: [] for mode in meshes}
        by_process: dict[str, list[dict[str, float]]] = {mode: [] for mode in meshes}
        walls: dict[str, list[float]] = {mode: [] for mode in meshes}
        failed = dict.fromkeys(meshes, 0)
        exported_runs = 0
        for round_ in range(1, rounds + 1):
            if side_by_side:
                print(f"  ... tracing modes side by side, {runs} runs each (round {round_} of {rounds})", flush=True)
                with ThreadPoolExecutor(max_workers=len(meshes)) as pool:
                    started = {
                        mode: pool.submit(_run_batch, mesh, pids[mode], runs, tasks, "default", SETTLE_SECONDS)
                        for mode, mesh in meshes.items()
                    }
                    batches = {mode: future.result() for mode, future in started.items()}
            else:
                batches = {}
                for mode, mesh in meshes.items():
                    print(f"  ... tracing {mode}, {runs} runs at once (round {round_} of {rounds})", flush=True)
                    batches[mode] = _run_batch(mesh, pids[mode], runs, tasks, "default", settle=SETTLE_SECONDS)
            for mode, batch in batches.items():
                per_run[mode].append(_mesh_cpu_per_run(batch, list(pids[mode])))
                by_process[mode].append({name: batch.cpu[name] / batch.count for name in pids[mode]})
                walls[mode].append(batch.wall)
                failed[mode] += _failed(batch)
                if mode == "OTLP export":
                    exported_runs += batch.count
        spans = len(receiver.snapshot()) - spans_before
        _print_tracing(per_run, walls, failed, runs, tasks, spans / max(exported_runs, 1))
        _print_tracing_processes(by_process)
    finally:
        for mesh in meshes.values():
            mesh.stop()
        receiver.stop()


def _mesh_pids(mesh: Mesh) -> dict[str, int]:
    assert mesh.host is not None
    return {"host": mesh.host.process.pid, **{name: server.process.pid for name, server in mesh.services.items()}}


def _print_tracing(
    per_run: dict[str, list[float]],
    walls: dict[str, list[float]],
    failed: dict[str, int],
    runs: int,
    tasks: int,
    spans_per_run: float,
) -> None:
    print(f"\ntracing cost: {runs} offline runs x {tasks} tasks at once, CPU seconds per run of the mesh")
    print("  (host + gateway + tools; median of the batches, each batch listed):")
    base = _median(per_run["off"])
    for mode, values in per_run.items():
        median = _median(values)
        listed = ", ".join(f"{v:.3f}" for v in values)
        print(
            f"  {mode:<13} {median:7.3f} s/run  x{median / base:5.3f} vs off   batch wall med "
            f"{_median(walls[mode]):6.2f} s   failed {failed[mode]}   (batches: {listed})"
        )
    extra = _median(per_run["OTLP export"]) / base - 1
    # Each round's batches ran one after another, so a ratio within a round is less exposed to the
    # machine's drift than a ratio of medians taken over all rounds.
    for mode in [name for name in per_run if name != "off"]:
        paired = [mine / off for mine, off in zip(per_run[mode], per_run["off"], strict=True)]
        listed = ", ".join(f"{r:.2f}" for r in paired)
        print(f"  {mode:<13} vs off within each round: median x{_median(paired):5.3f}   (rounds: {listed})")
    print(f"  spans received per exported run: {spans_per_run:.1f}")
    verdict = "holds" if extra < TRACING_GOAL else "missed"
    goal = f"under {TRACING_GOAL * 100:.0f} % more CPU per run with OTLP export"
    print(f"goal ({goal}): {verdict} ({extra * 100:+.1f} %)")


def _print_tracing_processes(by_process: dict[str, list[dict[str, float]]]) -> None:
    """Where each mode's CPU goes: each process's median CPU seconds per run over the batches."""
    names = list(next(iter(by_process.values()))[0])
    print("  CPU seconds per run by process (median of the batches):")
    print("  " + " " * 13 + "".join(f"{name:>9}" for name in names))
    for mode, batches in by_process.items():
        medians = "".join(f"{_median([b[name] for b in batches]):9.4f}" for name in names)
        print(f"  {mode:<13}{medians}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200, help="offline runs at once (and the top sweep level)")
    parser.add_argument("--tasks", type=int, default=5)
    parser.add_argument("--latency-ms", type=int, default=500)
    parser.add_argument("--sweep", help="concurrency levels for the slow model (default 1,25,50,100,--runs)")
    parser.add_argument("--activity-concurrency", type=int, default=400)
    parser.add_argument("--activity-workers", type=int, default=0, help="host activity worker processes")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run the slow-model sweep this many times (the machine's speed varies)"
    )
    parser.add_argument("--tracing-runs", type=int, default=20, help="runs at once in each tracing batch")
    parser.add_argument("--tracing-rounds", type=int, default=3, help="rounds of the tracing modes (0: skip)")
    parser.add_argument("--tracing-only", action="store_true", help="measure only what tracing costs")
    parser.add_argument(
        "--tracing-side-by-side",
        action="store_true",
        help="run each round's tracing batches at the same time, so the machine's drift hits every mode alike",
    )
    parser.add_argument(
        "--tracing-stages",
        action="store_true",
        help="add a mesh whose spans are recorded but never encoded or sent, to split export's cost",
    )
    args = parser.parse_args()
    if args.tracing_only:
        root = Path(tempfile.mkdtemp(prefix="bench-tracing-"))
        _tracing_cost(
            root,
            args.tracing_runs,
            args.tasks,
            max(args.tracing_rounds, 1),
            args.activity_concurrency,
            args.tracing_side_by_side,
            args.tracing_stages,
        )
        return
    if args.repeat < 1:
        raise SystemExit(f"--repeat must be at least 1, got {args.repeat}")
    workers = args.activity_workers
    levels = _levels(args.sweep, args.runs)

    root = Path(tempfile.mkdtemp(prefix="bench-agent-runs-"))
    fake = start_uvicorn("tests.support.fake_openai:app", log_path=root / "fake.log", env={"FAKE_OPENAI_RECORD": "0"})
    _gateway_config(root / "gateway.yaml", fake.url, args.latency_ms)
    try:
        mesh = start_mesh(
            root,
            gateway_env={"TOOLMESH_GATEWAY_CONFIG": str(root / "gateway.yaml"), "FAKE_UPSTREAM_KEY": "bench"},
            host_env={
                "TOOLMESH_ACTIVITY_CONCURRENCY": str(args.activity_concurrency),
                "TOOLMESH_ACTIVITY_WORKERS": str(workers),
            },
        )
    except BaseException:
        fake.stop()
        raise
    assert mesh.host is not None
    pids = {
        "host": mesh.host.process.pid,
        **_workers(mesh.host.process.pid, workers),
        **{name: server.process.pid for name, server in mesh.services.items()},
        "fake": fake.process.pid,
    }
    try:
        print(f"agent runs on the local host: {args.runs} runs x {args.tasks} tasks", flush=True)
        one = _run_batch(mesh, pids, 1, args.tasks, "default")
        many = _run_batch(mesh, pids, args.runs, args.tasks, "default")
        _print_offline(one, many)
        sweep = []
        for round_ in range(1, args.repeat + 1):
            for count in levels:
                of = f" (round {round_} of {args.repeat})" if args.repeat > 1 else ""
                print(f"  ... slow model, {count} runs at once{of}", flush=True)
                sweep.append(_slow_level(mesh, pids, count, args.tasks, args.latency_ms / 1000))
        _print_sweep(sweep, args.latency_ms, [*pids, _cpu.OWN])
    finally:
        mesh.stop()
        fake.stop()
    if args.tracing_rounds > 0:
        _tracing_cost(
            root,
            args.tracing_runs,
            args.tasks,
            args.tracing_rounds,
            args.activity_concurrency,
            args.tracing_side_by_side,
            args.tracing_stages,
        )


if __name__ == "__main__":
    main()
