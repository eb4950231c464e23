"""Start real servers as child processes on free loopback ports, for tests.

Every service test goes through real sockets: the service runs in its own process,
exactly as it would be deployed, and the test talks to it with an HTTP client.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    """A server process and the base URL it answers on."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: the crash a durable component must survive."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def child_pids(pid: int) -> list[int]:
    """The child processes of ``pid`` (the host's activity workers), from ``/proc/<pid>/task/*/children``."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found.update(int(child) for child in (task / "children").read_text().split())
        except FileNotFoundError:
            continue  # that thread ended meanwhile
    return sorted(found)


def _pythonpath(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(REPO_ROOT), str(REPO_ROOT / "orchestrator")]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.setdefault("PYTHONUNBUFFERED", "1")
    if extra:
        env.update(extra)
    return env


START_TIMEOUT = 90.0
"""How long a server may take to answer its health check. Its imports alone take tens of seconds on
a busy two-core machine; a server that exits fails the wait at once, whatever this says."""


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited with code {process.returncode} before it was healthy; log:\n"
                + log_path.read_text(errors="replace")
            )
        try:
            response = httpx.get(url, timeout=1.0)
            if response.status_code < 500:
                return
            last_error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last_error = repr(exc)
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(
        f"server at {url} not healthy after {timeout}s ({last_error}); log:\n" + log_path.read_text(errors="replace")
    )


def start_server(
    args: Sequence[str],
    *,
    port: int,
    log_path: Path,
    health_path: str = "/healthz",
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = START_TIMEOUT,
) -> RunningServer:
    """Run ``python <args>`` (args must make it listen on ``port``) and wait for ``health_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = log_path.open("ab")
    process = subprocess.Popen(
        [sys.executable, *args],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=_pythonpath(env),
        cwd=str(cwd or REPO_ROOT),
    )
    log_file.close()
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(url + health_path, process, log_path, timeout)
    return RunningServer(url=url, port=port, process=process, log_path=log_path)


def start_uvicorn(
    app: str,
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    health_path: str = "/healthz",
    port: int | None = None,
    timeout: float = START_TIMEOUT,
) -> RunningServer:
    """Serve an ASGI app (``module:attr``) with uvicorn in a child process."""
    port = port or free_port()
    return start_server(
        ["-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        port=port,
        log_path=log_path,
        health_path=health_path,
        env=env,
        timeout=timeout,
    )


@contextmanager
def uvicorn_server(
    app: str, *, log_path: Path, env: Mapping[str, str] | None = None, health_path: str = "/healthz"
) -> Iterator[RunningServer]:
    server = start_uvicorn(app, log_path=log_path, env=env, health_path=health_path)
    try:
        yield server
    finally:
        server.stop()
