"""Benchmark of the local durable host: run with ``.venv/bin/python tests/bench/bench_durable_host.py``.

Six figures, each against a baseline measured in the same run:

1. sequential no-op activities per second in one instance (baseline: the same orchestration
   replayed by the same episode code in memory, without SQLite, threads or HTTP);
2. a fan-out/fan-in of 1,000 no-op activities (activities per second);
3. 1,000 concurrent instances of a 5-activity orchestration (instances and activities/s);
4. per-step time at step 10 vs step 1,000 of a long orchestration, with and without
   continue_as_new (every 20 steps; each figure is the median over a 20-step window);
   the ratio step 1,000 / step 10 is the figure;
5. 1,000 sequential no-op activities in one instance that continues as new every 100 steps
   (the documented way to run long sequences), in activities per second (baseline: ten
   in-memory replays of 100 steps);
6. the CPU cost of one episode (prepare, the SDK's replay, finish) at steps 5 to 300 of a
   sequential orchestration, with the host's SDK speedups (``durable_host/sdk_speedups.py``)
   against the unmodified SDK measured in a fresh process. ``--episodes`` prints this one alone;
7. sequential no-op activities at 100 and 300 steps with orchestrator sessions (the default)
   against a second host that replays every episode (``TOOLMESH_ORCHESTRATOR_SESSIONS=0``).
   ``--sessions`` prints this one alone.

Goals: >= 300 sequential activities/s (figures 1 and 5), >= 1,000 fan-out activities/s, and a
step-1,000/step-10 ratio within 1.5x with continue_as_new. Nothing is asserted: figures are
printed, since absolute times depend on the machine.

Runs wait through the management API's start-and-wait (``timeout``/``pollingInterval``), so
the harness does not load the host with status polls while it measures.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "orchestrator")]

from tests.support.servers import RunningServer, free_port, start_server  # noqa: E402

APP_DIR = REPO / "tests" / "durable_host" / "apps" / "bench"
KEY = "bench-key"
MGMT = "/runtime/webhooks/durabletask"
SEQUENTIAL_COUNTS = (100, 300)
REPEATS = 3
FAN_OUT = 1000
INSTANCES = 1000
LONG_STEPS = 1000
CAN_EVERY = 20
CAN_TOTAL = 1000
CAN_SEQUENCE_EVERY = 100
REPLAY_STEPS = (5, 20, 100, 300)
REPLAY_REPEATS = 30
NO_SESSIONS = "TOOLMESH_ORCHESTRATOR_SESSIONS"


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"x-functions-key": KEY}, timeout=120)


def _start(client: httpx.Client, name: str, value: Any, instance_id: str) -> None:
    response = client.post(f"{MGMT}/orchestrators/{name}/{instance_id}", json=json.dumps(value))
    response.raise_for_status()


def _run(client: httpx.Client, name: str, value: Any, instance_id: str, timeout: float = 600) -> float:
    """Start an instance and wait for it in the same request; returns the seconds it took."""
    began = time.perf_counter()
    response = client.post(
        f"{MGMT}/orchestrators/{name}/{instance_id}",
        json=json.dumps(value),
        params={"timeout": str(timeout), "pollingInterval": "1"},
        timeout=timeout + 30,
    )
    elapsed = time.perf_counter() - began
    body = response.json() if response.status_code == 200 else None
    if response.status_code != 200 or (isinstance(body, dict) and "runtimeStatus" in body):
        raise RuntimeError(f"{instance_id} did not complete: {response.status_code} {response.text[:500]}")
    return elapsed


class _InMemoryInstance:
    """One sequential no-op instance driven by the host's own episode code and the real SDK, in memory."""

    def __init__(self, count: int) -> None:
        import azure.durable_functions as df

        from durable_host import episode
        from durable_host import history as h
        from durable_host.store import InstanceRow, MessageKind, MessageRow

        def orch(context: Any) -> Any:
            for n in range(context.get_input()):
                yield context.call_activity("noop", n)
            return count

        self.handle = df.Orchestrator.create(orch)
        self.row = InstanceRow.new(
            instance_id="i",
            name="o",
            input_json=json.dumps(json.dumps(count)),
            created_time=h.dtfx_time(datetime.now(UTC)),
            execution_id="e",
        )
        self.history: list[str] = []
        start = episode.start_message(self.row, datetime.now(UTC))
        self.queue = [
            MessageRow(
                id=1, instance_id="i", execution_id="e", kind=MessageKind.EVENT, payload=start.payload, visible_at=0
            )
        ]
        self.next_id = 2

    @property
    def done(self) -> bool:
        from durable_host.store import RuntimeStatus

        return self.row.status is RuntimeStatus.COMPLETED

    def episode(self) -> Any:
        """Run the next episode (prepare, the SDK's replay, finish) and return its commit, unapplied."""
        from durable_host import episode
        from durable_host.invoke import run_orchestrator

        now = datetime.now(UTC) + timedelta(microseconds=self.next_id)
        plan = episode.prepare(self.row, self.history, self.queue, now)
        assert plan.body is not None
        return episode.finish(plan, run_orchestrator(self.handle, plan.body), _NoOtherInstances())

    def step(self) -> None:
        """Run the next episode and apply it; each new activity's result becomes the next message."""
        from durable_host import history as h
        from durable_host.store import MessageKind, MessageRow

        commit = self.episode()
        self.history.extend(commit.history_append)
        self.row = commit.instance
        now = datetime.now(UTC)
        self.queue = []
        for activity in commit.new_activities:
            payload = h.task_completed(now, activity.task_id, activity.input)
            self.queue.append(
                MessageRow(
                    id=self.next_id,
                    instance_id="i",
                    execution_id="e",
                    kind=MessageKind.EVENT,
                    payload=payload,
                    visible_at=0,
                )
            )
            self.next_id += 1


class _NoOtherInstances:
    def is_orchestrator(self, name: str) -> bool:
        return False

    def is_active(self, instance_id: str) -> bool:
        return False


def _in_memory_sequential(count: int) -> float:
    """Baseline: the host's own episode code with the real SDK, everything in memory."""
    from durable_host import sdk_speedups

    sdk_speedups.install()
    instance = _InMemoryInstance(count)
    began = time.perf_counter()
    while not instance.done:
        instance.step()
    return time.perf_counter() - began


def _episode_medians(speedups: bool) -> dict[int, float]:
    """Median seconds of one episode at each of REPLAY_STEPS steps (a new timestamp each time)."""
    if speedups:
        from durable_host import sdk_speedups

        sdk_speedups.install()
    instance = _InMemoryInstance(max(REPLAY_STEPS) + 1)
    medians: dict[int, float] = {}
    for target in REPLAY_STEPS:
        while len(instance.history) < 4 * target:
            instance.step()
        samples = []
        for _ in range(REPLAY_REPEATS):
            began = time.perf_counter()
            instance.episode()
            samples.append(time.perf_counter() - began)
        medians[target] = statistics.median(samples)
    return medians


def _replay_figure() -> None:
    """6. One episode's cost with the SDK speedups against the unmodified SDK (in a fresh process)."""
    child = subprocess.run(
        [sys.executable, __file__, "--episode-baseline"], capture_output=True, text=True, check=True, timeout=600
    )
    plain = {int(k): v for k, v in json.loads(child.stdout).items()}
    fast = _episode_medians(speedups=True)
    for steps in REPLAY_STEPS:
        print(
            f"6. one episode at step {steps} ({4 * steps + 2} history events), median of {REPLAY_REPEATS}: "
            f"{fast[steps] * 1e6:.0f} us with the SDK speedups, {plain[steps] * 1e6:.0f} us with the unmodified "
            f"SDK: {plain[steps] / fast[steps]:.2f}x faster"
        )


def _step_times(path: Path) -> dict[int, float]:
    stamps: dict[int, float] = {}
    for line in path.read_text().split("\n"):
        if line.strip():
            n, at = line.split()
            stamps.setdefault(int(n), float(at))
    return stamps


def _per_step(stamps: dict[int, float], around: int, width: int = CAN_EVERY // 2) -> float:
    """Median step time over a window as wide as one continue_as_new cycle, centred on a step."""
    deltas = [
        stamps[n] - stamps[n - 1] for n in range(around - width, around + width) if n in stamps and n - 1 in stamps
    ]
    return statistics.median(deltas)


def _host(workdir: Path, name: str, env: dict[str, str] | None = None) -> RunningServer:
    port = free_port()
    return start_server(
        [
            "-m",
            "durable_host",
            "--app-dir",
            str(APP_DIR),
            "--port",
            str(port),
            "--data-dir",
            str(workdir / f"data-{name}"),
            "--functions-key",
            KEY,
            "--log-level",
            "warning",
        ],
        port=port,
        log_path=workdir / f"host-{name}.log",
        env={"BENCH_STAMPS_DIR": str(workdir / "stamps"), **(env or {})},
    )


def _sessions_figure(workdir: Path) -> None:
    hosts = {"sessions": _host(workdir, "sessions"), "replay": _host(workdir, "replay", {NO_SESSIONS: "0"})}
    try:
        for count in SEQUENTIAL_COUNTS:
            medians: dict[str, float] = {}
            for name, server in hosts.items():
                with _client(server.url) as client:
                    _run(client, "sequential", 10, f"warm-up-{count}")
                    medians[name] = statistics.median(
                        _run(client, "sequential", count, f"s7-{count}-{attempt}") for attempt in range(REPEATS)
                    )
            print(
                f"7. sequential, {count} no-op activities, median of {REPEATS}: with sessions "
                f"{count / medians['sessions']:.0f} activities/s, replaying every episode "
                f"{count / medians['replay']:.0f}/s; time ratio {medians['sessions'] / medians['replay']:.2f}x"
            )
    finally:
        for server in hosts.values():
            server.stop()


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-durable-host-"))
    stamps_dir = workdir / "stamps"
    stamps_dir.mkdir()
    server = _host(workdir, "main")
    print(f"local durable host benchmark (work dir {workdir})")
    try:
        with _client(server.url) as client:
            # 1. sequential (twice: replay makes each step cost O(history), so N matters)
            _run(client, "sequential", 10, "warm-up")
            for count in SEQUENTIAL_COUNTS:
                baseline = statistics.median(_in_memory_sequential(count) for _ in range(REPEATS))
                elapsed = statistics.median(
                    _run(client, "sequential", count, f"seq-{count}-{attempt}") for attempt in range(REPEATS)
                )
                rate, base_rate = count / elapsed, count / baseline
                print(
                    f"1. sequential: {count} no-op activities, median of {REPEATS}: {elapsed:.2f}s = "
                    f"{rate:.0f} activities/s (goal >= 300); in-memory replay baseline {base_rate:.0f}/s, "
                    f"host/baseline time {elapsed / baseline:.2f}x"
                )

            # 2. fan-out / fan-in
            elapsed = _run(client, "fan_out", FAN_OUT, "fan")
            fan_rate = FAN_OUT / elapsed
            print(
                f"2. fan-out/fan-in: {FAN_OUT} activities in {elapsed:.2f}s = {fan_rate:.0f} activities/s "
                f"(goal >= 1000); {fan_rate / rate:.2f}x the sequential rate"
            )

            # 3. many instances
            began = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda n: _start(client, "five", None, f"five-{n}"), range(INSTANCES)))
            started = time.perf_counter() - began
            remaining = {f"five-{n}" for n in range(INSTANCES)}
            while remaining:
                listed = client.get(
                    f"{MGMT}/instances/", params={"instanceIdPrefix": "five-", "runtimeStatus": "Completed"}
                ).json()
                remaining -= {s["instanceId"] for s in listed}
                if remaining:
                    time.sleep(0.2)
            elapsed = time.perf_counter() - began
            print(
                f"3. {INSTANCES} instances x 5 activities: all started in {started:.2f}s, all completed in "
                f"{elapsed:.2f}s = {INSTANCES / elapsed:.0f} instances/s, {5 * INSTANCES / elapsed:.0f} "
                f"activities/s ({5 * INSTANCES / elapsed / rate:.2f}x the sequential rate)"
            )

            # 4. long orchestrations, with and without continue_as_new
            for label, every in (
                ("without continue_as_new", None),
                (f"continue_as_new every {CAN_EVERY}", CAN_EVERY),
            ):
                run = "plain" if every is None else "can"
                state = {"run": run, "steps": LONG_STEPS, "every": every}
                elapsed = _run(client, "long_run", state, f"long-{run}", timeout=1800)
                stamps = _step_times(stamps_dir / f"stamps-{run}")
                at10, at1000 = _per_step(stamps, 10), _per_step(stamps, LONG_STEPS - 10)
                print(
                    f"4. {LONG_STEPS} steps {label}: {elapsed:.1f}s total; per-step median at step 10 "
                    f"{at10 * 1000:.2f} ms, at step {LONG_STEPS} {at1000 * 1000:.2f} ms, "
                    f"ratio {at1000 / at10:.2f}x" + (" (goal <= 1.5x)" if every else "")
                )

            # 5. a long sequence the documented way: continue_as_new every 100 steps
            cycles = CAN_TOTAL // CAN_SEQUENCE_EVERY
            baseline = cycles * statistics.median(_in_memory_sequential(CAN_SEQUENCE_EVERY) for _ in range(REPEATS))
            state = {"total": CAN_TOTAL, "every": CAN_SEQUENCE_EVERY}
            elapsed = statistics.median(
                _run(client, "sequential_can", state, f"seq-can-{attempt}") for attempt in range(REPEATS)
            )
            rate = CAN_TOTAL / elapsed
            print(
                f"5. sequential with continue_as_new every {CAN_SEQUENCE_EVERY}: {CAN_TOTAL} no-op activities, "
                f"median of {REPEATS}: {elapsed:.2f}s = {rate:.0f} activities/s (goal >= 300); in-memory replay "
                f"baseline {CAN_TOTAL / baseline:.0f}/s, host/baseline time {elapsed / baseline:.2f}x"
            )
    finally:
        server.stop()
    _replay_figure()
    _sessions_figure(workdir)


if __name__ == "__main__":
    if "--episode-baseline" in sys.argv:
        print(json.dumps(_episode_medians(speedups=False)))
    elif "--episodes" in sys.argv:
        _replay_figure()
    elif "--sessions" in sys.argv:
        _sessions_figure(Path(tempfile.mkdtemp(prefix="bench-durable-host-")))
    else:
        main()
