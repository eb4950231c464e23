"""Activity worker processes: activities run beside the host, on the machine's other cores.

On Azure the Functions host hands activity invocations to Python worker processes
(``FUNCTIONS_WORKER_PROCESS_COUNT`` of them). The local host does the same for activities when
``TOOLMESH_ACTIVITY_WORKERS`` is above 0 (POSIX only): its own event loop keeps orchestrator
episodes, the store and the HTTP API, and each worker runs activities on its own loop and GIL.
That pays where activities do real work in Python (an activity's request building and answer
parsing are close to half of the host's CPU in an agent run); each activity then costs one more
hop between processes, which makes no-op activities slower. Off by default.

Each worker is ``python -m durable_host.workers`` with one end of a socket pair. Frames are a
4-byte big-endian length and UTF-8 JSON:

- host to worker: ``{"id": n, "name": ..., "input": <JSON text or null>, "task_id": k}``
- worker to host: ``{"id": n, "event": <TaskCompleted or TaskFailed>}``

The worker imports the function app itself and runs the activity exactly as the in-process path
does (``invoke.run_activity``), so its event is the one the host would have made. A worker that
exits fails its activities in flight with TaskFailed, as the Functions host does when a language
worker dies, and is started again; a worker whose host goes away (the socket closes) exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import struct
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from durable_host import history as h
from durable_host.history import Event

__all__ = ["WorkerPool"]

log = logging.getLogger("durable_host")

_HEADER = struct.Struct(">I")
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])
RESTART_DELAY = 1.0
"""A worker that exits soon after it started waits this long before the next start (no crash loop)."""
WORKER_WAIT = 60.0
"""How long an activity waits for a worker to be running before it fails."""


def _frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    return _HEADER.pack(len(body)) + body


async def _read_frame(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next message, or None once the other end has closed."""
    try:
        size = _HEADER.unpack(await reader.readexactly(_HEADER.size))[0]
        message: dict[str, Any] = json.loads(await reader.readexactly(size))
    except (asyncio.IncompleteReadError, ConnectionError):
        return None  # closed; or reset, when the other end exited with our frames unread
    return message


# ---- the host's side ---------------------------------------------------------------------


@dataclass(eq=False)
class _Worker:
    """One worker process, its connection and the activities it has in flight."""

    process: asyncio.subprocess.Process
    writer: asyncio.StreamWriter
    started: float
    waiting: dict[int, tuple[int, asyncio.Future[Event]]] = field(default_factory=dict)
    """By call id: the activity's task id and where its event goes."""


class WorkerPool:
    """Starts ``count`` workers for the app in ``app_dir`` and runs activities on the least busy."""

    def __init__(self, app_dir: Path, count: int, *, concurrency: int) -> None:
        self._app_dir = app_dir
        self._count = count
        self._concurrency = concurrency
        self._workers: list[_Worker] = []
        self._stopping = False
        self._next_id = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Start every worker; activities sent before they are up wait in their sockets."""
        for _ in range(self._count):
            await self._start_one(delay=0.0)

    async def run(self, name: str, input_text: str | None, task_id: int, client_binding: str | None = None) -> Event:
        """Run an activity on a worker and return its TaskCompleted or TaskFailed event."""
        worker = await self._least_busy()
        if worker is None:
            reason = f"No activity worker process was running for {WORKER_WAIT:.0f} s; the host's log says why."
            return h.task_failed(datetime.now(UTC), task_id, reason, None)
        self._next_id += 1
        call_id = self._next_id
        answer: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        worker.waiting[call_id] = (task_id, answer)
        try:
            frame = {"id": call_id, "name": name, "input": input_text, "task_id": task_id, "client": client_binding}
            worker.writer.write(_frame(frame))
            with contextlib.suppress(ConnectionError):
                await worker.writer.drain()  # a worker that just died: its listener fails this call
            return await answer
        finally:
            worker.waiting.pop(call_id, None)

    async def _least_busy(self) -> _Worker | None:
        """The worker with the fewest activities in flight; waits while all are (re)starting."""
        deadline = time.monotonic() + WORKER_WAIT
        while not self._workers:
            if self._stopping:
                raise RuntimeError("the host is stopping")
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.05)
        return min(self._workers, key=lambda w: len(w.waiting))

    async def stop(self) -> None:
        """Close every worker's socket (they exit when they see it) and wait for them briefly."""
        self._stopping = True
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.writer.close()
        for worker in workers:
            try:
                await asyncio.wait_for(worker.process.wait(), 5)
            except TimeoutError:
                worker.process.kill()
                await worker.process.wait()
        for task in list(self._tasks):
            task.cancel()

    async def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "durable_host.workers",
                "--app-dir",
                str(self._app_dir),
                "--fd",
                str(theirs.fileno()),
                "--concurrency",
                str(self._concurrency),
                pass_fds=(theirs.fileno(),),
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
            )
        finally:
            theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours)
        worker = _Worker(process=process, writer=writer, started=time.monotonic())
        self._workers.append(worker)
        task = asyncio.create_task(self._listen(worker, reader), name=f"activity-worker-{process.pid}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        log.info("activity worker %s started", process.pid)

    async def _listen(self, worker: _Worker, reader: asyncio.StreamReader) -> None:
        """Hand each answer to its caller; when the worker goes, fail what it had and replace it."""
        while (message := await _read_frame(reader)) is not None:
            _, answer = worker.waiting.pop(message["id"], (0, None))
            if answer is not None and not answer.done():
                answer.set_result(message["event"])
        worker.writer.close()
        code = await worker.process.wait()
        if worker in self._workers:
            self._workers.remove(worker)
        now = datetime.now(UTC)
        reason = f"The activity's worker process (pid {worker.process.pid}) exited with code {code}."
        for task_id, answer in list(worker.waiting.values()):
            if not answer.done():
                answer.set_result(h.task_failed(now, task_id, reason, None))
        if self._stopping:
            return
        log.error("activity worker %s exited with code %s; starting another", worker.process.pid, code)
        await self._start_one(delay=RESTART_DELAY if time.monotonic() - worker.started < RESTART_DELAY else 0.0)

    async def _start_one(self, *, delay: float) -> None:
        """Start a worker, trying again every RESTART_DELAY while the OS refuses (out of processes)."""
        while not self._stopping:
            await asyncio.sleep(delay)
            try:
                await self._spawn()
                return
            except OSError as exc:
                log.error("could not start an activity worker: %s", exc)
                delay = RESTART_DELAY


# ---- the worker's side -------------------------------------------------------------------


async def _serve(app_dir: Path, fd: int, concurrency: int) -> None:
    from durable_host.discovery import load_app
    from durable_host.gc_tuning import tune_garbage_collector
    from durable_host.invoke import http_activity_client, run_activity

    functions = load_app(app_dir)
    tune_garbage_collector()
    threads = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="activity")
    reader, writer = await asyncio.open_connection(sock=socket.socket(fileno=fd))
    running: set[asyncio.Task[None]] = set()

    async def answer(message: dict[str, Any], http: httpx.AsyncClient) -> None:
        event = await run_activity(
            functions.activities,
            message["name"],
            message["input"],
            message["task_id"],
            threads,
            http,
            message.get("client"),
        )
        writer.write(_frame({"id": message["id"], "event": event}))
        await writer.drain()

    async with http_activity_client() as http:
        while (message := await _read_frame(reader)) is not None:
            task = asyncio.create_task(answer(message, http))
            running.add(task)
            task.add_done_callback(running.discard)
    threads.shutdown(wait=False, cancel_futures=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m durable_host.workers", description=__doc__)
    parser.add_argument("--app-dir", required=True, type=Path)
    parser.add_argument("--fd", required=True, type=int, help="this worker's end of the host's socket pair")
    parser.add_argument("--concurrency", type=int, default=16, help="threads for sync activities")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The host owns the lifetime: Ctrl-C in a terminal reaches the whole process group, and the
    # worker must finish when the host closes its socket, not before.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve(args.app_dir, args.fd, args.concurrency))
    else:
        uvloop.run(_serve(args.app_dir, args.fd, args.concurrency))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
