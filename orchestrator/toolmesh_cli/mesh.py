"""Start, inspect and stop the local mesh: the tool services, the LLM gateway and the durable host.

Each service is an ordinary child process on its own loopback port, started in its own
session so it outlives ``toolmesh up``. The state directory (``./.toolmesh`` by default) holds
what a later ``toolmesh status`` or ``down`` needs: ``mesh.json`` (pids, ports, logs; no
secrets), ``secrets.json`` (mode 0600: the generated keys, reused across restarts so stored
runs and clients keep working), ``logs/`` and ``data/`` (the services' SQLite files) and
``host/`` (the durable host's store). Keys go to the services through their environment,
never on a command line (visible to every local user) and never to the terminal. Everything
under the state directory is for its owner only: the directories are 0700, and the log files
and whatever the services write (they run with umask 077) are 0600.

Library use (tests, demos)::

    mesh = start_mesh(Path(".toolmesh"), ports=MeshPorts.free())
    try:
        ...  # talk to mesh.url with mesh.functions_key
    finally:
        mesh.stop()
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from toolmesh_cli.errors import MeshError, ServiceStartError

__all__ = [
    "DEFAULT_PORTS",
    "TOOL_SERVICES",
    "Mesh",
    "MeshPorts",
    "ServiceRecord",
    "ServiceState",
    "load_mesh",
    "project_root",
    "service_states",
    "start_mesh",
]

TOOL_SERVICES = ("notes", "issues", "calc", "mailbox")
"""The tool services of the mesh, each ``tools.<name>.main:app`` with ``<NAME>_*`` settings."""

DEFAULT_START_TIMEOUT = 90.0
"""Seconds a service may take to answer /healthz (the host imports the whole function app)."""

_SECRET_NAMES = (
    "TOOLMESH_FUNCTIONS_KEY",
    "TOOLMESH_GATEWAY_KEY",
    "TOOLMESH_CALLBACK_SECRET",
    *(f"{name.upper()}_API_KEY" for name in TOOL_SERVICES),
)


@dataclass(frozen=True, kw_only=True)
class MeshPorts:
    """One loopback port per service."""

    host: int = 7071
    gateway: int = 8100
    notes: int = 8101
    issues: int = 8102
    calc: int = 8103
    mailbox: int = 8104

    @classmethod
    def free(cls, *, host: int | None = None) -> MeshPorts:
        """Ports free right now (the host's may be fixed, e.g. to keep the default URL)."""
        return cls(
            host=host or _free_port(),
            gateway=_free_port(),
            notes=_free_port(),
            issues=_free_port(),
            calc=_free_port(),
            mailbox=_free_port(),
        )

    def of(self, service: str) -> int:
        return int(getattr(self, service))


DEFAULT_PORTS = MeshPorts()


@dataclass(frozen=True, kw_only=True)
class ServiceRecord:
    """One started service, as written to mesh.json."""

    name: str
    pid: int
    port: int
    url: str
    log_path: str
    marker: str
    """A string of the service's command line, checked before signalling a stored pid."""


@dataclass(frozen=True, kw_only=True)
class ServiceState:
    """What ``toolmesh status`` shows for one service."""

    name: str
    pid: int
    url: str
    alive: bool
    healthy: bool
    log_path: str


@dataclass(frozen=True, kw_only=True)
class Mesh:
    """A running local mesh. ``url`` is the API origin; ``stop()`` ends every service."""

    state_dir: Path
    services: tuple[ServiceRecord, ...]
    started_at: float
    _processes: Mapping[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def url(self) -> str:
        return self.service("host").url

    @property
    def functions_key(self) -> str:
        """The host's function key (read from the 0600 secrets file; never log it)."""
        return _read_secrets(self.state_dir)["TOOLMESH_FUNCTIONS_KEY"]

    def service(self, name: str) -> ServiceRecord:
        for record in self.services:
            if record.name == name:
                return record
        raise MeshError(f"the mesh has no service named {name!r}")

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM every service (host first, so no new calls start), then SIGKILL stragglers."""
        for record in reversed(self.services):
            _terminate(record, self._processes.get(record.name))
        deadline = time.monotonic() + timeout
        for record in reversed(self.services):
            _wait_gone(record, self._processes.get(record.name), deadline)
        state_file = self.state_dir / "mesh.json"
        if state_file.exists() and _read_state_pids(state_file) == {r.pid for r in self.services}:
            state_file.unlink()

    def to_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "services": [asdict(record) for record in self.services],
        }


def project_root() -> Path:
    """The checkout holding tools/, llm_gateway/ and orchestrator/ (this file is in orchestrator/)."""
    return Path(__file__).resolve().parents[2]


def start_mesh(
    state_dir: Path,
    *,
    ports: MeshPorts | None = None,
    env_overrides: Mapping[str, str] | None = None,
    root: Path | None = None,
    tools: Sequence[str] = TOOL_SERVICES,
    timeout: float = DEFAULT_START_TIMEOUT,
) -> Mesh:
    """Start tools and gateway, wait for their /healthz, then start the host and wait for it.

    ``env_overrides`` reach every service (e.g. ``OPENAI_BASE_URL`` for the gateway or a
    ``TOOLMESH_GATEWAY_CONFIG`` with a scripted model). ``tools`` picks which tool services to
    start (all by default; the registry reports any it names that are not running). On any
    failure every service already started is stopped again and ``ServiceStartError`` names
    the one that failed and its log.
    """
    root = (root or project_root()).resolve()
    state_dir = state_dir.resolve()
    ports = ports or DEFAULT_PORTS
    if (existing := load_mesh(state_dir)) is not None and any(
        s.alive for s in service_states(existing, check_health=False)
    ):
        raise MeshError(f"a mesh is already running from {state_dir} (`toolmesh down` stops it)")
    unknown = sorted(set(tools) - set(TOOL_SERVICES))
    if unknown:
        raise MeshError(f"unknown tool service(s): {', '.join(unknown)}; known: {', '.join(TOOL_SERVICES)}")
    _check_layout(root, tools)
    for name in ("host", "gateway", *tools):
        _check_port_free(name, ports.of(name))
    for folder in (state_dir, *(state_dir / sub for sub in ("logs", "data", "host"))):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
    for path in state_dir.rglob("*"):
        if path.is_file():
            path.chmod(0o600)  # files an older version left readable
    keys = _load_or_create_secrets(state_dir)
    urls = {name: f"http://127.0.0.1:{ports.of(name)}" for name in ("host", "gateway", *TOOL_SERVICES)}
    base_env = _base_env(root)
    overrides = dict(env_overrides or {})

    started: list[tuple[ServiceRecord, subprocess.Popen[bytes]]] = []
    try:
        backends = [
            *((name, f"tools.{name}.main:app", _tool_env(name, state_dir, keys)) for name in tools),
            ("gateway", "llm_gateway.main:app", _gateway_env(state_dir, keys)),
        ]
        for name, module, env in backends:
            argv = ["-m", "uvicorn", module, "--host", "127.0.0.1", "--port", str(ports.of(name))]
            service_env = {**base_env, **env, **overrides}
            started.append(_launch(name, argv, module, urls[name], state_dir, root, service_env))
        for record, process in started:
            _wait_healthy(record, process, timeout)
        host_argv = [
            "-m",
            "durable_host",
            "--app-dir",
            str(root / "orchestrator"),
            "--host",
            "127.0.0.1",
            "--port",
            str(ports.host),
            "--data-dir",
            str(state_dir / "host"),
        ]
        host_env = {**base_env, **_host_env(urls, root, keys), **overrides}
        host = _launch("host", host_argv, "durable_host", urls["host"], state_dir, root, host_env)
        started.append(host)
        _wait_healthy(*host, timeout)
    except BaseException:
        Mesh(
            state_dir=state_dir,
            services=tuple(r for r, _ in started),
            started_at=time.time(),
            _processes={r.name: p for r, p in started},
        ).stop()
        raise
    mesh = Mesh(
        state_dir=state_dir,
        services=tuple(r for r, _ in started),
        started_at=time.time(),
        _processes={r.name: p for r, p in started},
    )
    _write_private(state_dir / "mesh.json", json.dumps(mesh.to_dict(), indent=2))
    return mesh


def load_mesh(state_dir: Path) -> Mesh | None:
    """The mesh recorded in ``state_dir/mesh.json``, or None when nothing was started there."""
    state_file = state_dir.resolve() / "mesh.json"
    if not state_file.is_file():
        return None
    try:
        data = json.loads(state_file.read_text())
        services = tuple(ServiceRecord(**item) for item in data["services"])
        return Mesh(state_dir=state_dir.resolve(), services=services, started_at=float(data["started_at"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MeshError(f"{state_file} is unreadable ({exc}); remove it if no mesh is running") from exc


def service_states(mesh: Mesh, *, check_health: bool = True) -> list[ServiceState]:
    """Whether each recorded process still runs and answers its health check."""
    states = []
    for record in mesh.services:
        alive = _is_ours(record)
        healthy = False
        if alive and check_health:
            try:
                healthy = httpx.get(record.url + "/healthz", timeout=2.0).status_code == 200
            except httpx.HTTPError:
                healthy = False
        states.append(
            ServiceState(
                name=record.name,
                pid=record.pid,
                url=record.url,
                alive=alive,
                healthy=healthy,
                log_path=record.log_path,
            )
        )
    return states


def log_tail(path: str | Path, lines: int = 20) -> str:
    """The end of a service log, to show with a start failure."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# -- environment -------------------------------------------------------------------------------


def _base_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(root), str(root / "orchestrator")]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _tool_env(name: str, state_dir: Path, keys: Mapping[str, str]) -> dict[str, str]:
    prefix = name.upper()
    return {
        f"{prefix}_API_KEY": keys[f"{prefix}_API_KEY"],
        f"{prefix}_DB": str(state_dir / "data" / f"{name}.sqlite3"),
    }


def _gateway_env(state_dir: Path, keys: Mapping[str, str]) -> dict[str, str]:
    return {
        "TOOLMESH_GATEWAY_API_KEYS": keys["TOOLMESH_GATEWAY_KEY"],
        "TOOLMESH_GATEWAY_DB": str(state_dir / "data" / "gateway.sqlite3"),
    }


def _host_env(urls: Mapping[str, str], root: Path, keys: Mapping[str, str]) -> dict[str, str]:
    env = {f"{name.upper()}_URL": urls[name] for name in TOOL_SERVICES}
    env["LLM_GATEWAY_URL"] = urls["gateway"]
    env["TOOLMESH_PUBLIC_URL"] = urls["host"]
    env["TOOLMESH_REGISTRY"] = str(root / "specs" / "registry.yaml")
    env.update(keys)
    return env


def _load_or_create_secrets(state_dir: Path) -> dict[str, str]:
    path = state_dir / "secrets.json"
    existing = _read_secrets(state_dir) if path.exists() else {}
    keys = {name: existing.get(name) or secrets.token_urlsafe(32) for name in _SECRET_NAMES}
    if keys != existing:
        _write_private(path, json.dumps(keys))
    os.chmod(path, 0o600)
    return keys


def _write_private(path: Path, text: str) -> None:
    """Write ``path`` (replacing it) so that only its owner can read it."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _read_secrets(state_dir: Path) -> dict[str, str]:
    path = state_dir / "secrets.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise MeshError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise MeshError(f"{path} is not a JSON object")
    return {str(k): str(v) for k, v in data.items()}


# -- processes ---------------------------------------------------------------------------------


def _check_layout(root: Path, tools: Sequence[str]) -> None:
    needed = [root / "orchestrator" / "function_app.py", root / "llm_gateway" / "main.py"]
    needed += [root / "tools" / name / "main.py" for name in tools]
    missing = [str(p.relative_to(root)) for p in needed if not p.is_file()]
    if missing:
        raise MeshError(f"{root} is not a complete toolmesh checkout; missing: {', '.join(missing)}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _check_port_free(name: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise MeshError(
                f"port {port} for {name} is in use ({exc.strerror}); "
                "stop what uses it or start with other ports (`toolmesh up --auto-ports`)"
            ) from exc


def _launch(
    name: str, argv: list[str], marker: str, url: str, state_dir: Path, root: Path, env: Mapping[str, str]
) -> tuple[ServiceRecord, subprocess.Popen[bytes]]:
    log_path = state_dir / "logs" / f"{name}.log"
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)  # also a log left by an older version
    with os.fdopen(fd, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, *argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(root),
            env=dict(env),
            start_new_session=True,
            umask=0o077,  # the service's databases and files: owner only
        )
    record = ServiceRecord(
        name=name,
        pid=process.pid,
        port=int(url.rsplit(":", 1)[1]),
        url=url,
        log_path=str(log_path),
        marker=marker,
    )
    return record, process


def _wait_healthy(record: ServiceRecord, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            code = process.poll()
            if code is not None:
                raise ServiceStartError(record.name, f"exited with code {code}", Path(record.log_path))
            try:
                response = client.get(record.url + "/healthz")
                if response.status_code == 200:
                    return
                last = f"/healthz answered HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.1)
    raise ServiceStartError(record.name, f"not healthy after {timeout:.0f}s ({last})", Path(record.log_path))


def _is_ours(record: ServiceRecord) -> bool:
    """True when ``record.pid`` is alive and still runs the service we started (pids get reused)."""
    try:
        os.waitpid(record.pid, os.WNOHANG)  # reap it if it is our own exited child
    except ChildProcessError:
        pass
    try:
        os.kill(record.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    cmdline = Path(f"/proc/{record.pid}/cmdline")
    if cmdline.exists():
        try:
            return record.marker in cmdline.read_bytes().decode(errors="replace")
        except OSError:
            return False
    return True


def _terminate(record: ServiceRecord, process: subprocess.Popen[bytes] | None) -> None:
    if process is not None:
        if process.poll() is None:
            process.terminate()
    elif _is_ours(record):
        os.kill(record.pid, signal.SIGTERM)


def _wait_gone(record: ServiceRecord, process: subprocess.Popen[bytes] | None, deadline: float) -> None:
    if process is not None:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        return
    killed = False
    while _is_ours(record):
        if time.monotonic() > deadline:
            if killed:
                raise MeshError(f"{record.name} (pid {record.pid}) did not exit after SIGKILL")
            os.kill(record.pid, signal.SIGKILL)
            killed, deadline = True, time.monotonic() + 5
        time.sleep(0.05)


def _read_state_pids(state_file: Path) -> set[int]:
    try:
        return {int(item["pid"]) for item in json.loads(state_file.read_text())["services"]}
    except (OSError, ValueError, KeyError, TypeError):
        return set()
