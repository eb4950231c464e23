"""Start, inspect, restart and stop the local mesh: the tool services, the LLM gateway and the durable host.

Each service is an ordinary child process on its own loopback port, started in its own
session so it outlives ``toolmesh up``. The state directory (``./.toolmesh`` by default) holds
what a later ``toolmesh up``, ``restart``, ``status`` or ``down`` needs: ``mesh.json`` (pids,
ports, logs; no secrets), ``secrets.json`` (mode 0600: the generated keys, reused across restarts
so stored runs and clients keep working), ``logs/<service>.log`` and ``data/<service>/`` (each
service's data: the tools' and the gateway's SQLite files, the durable host's store). Keys go to
the services through their environment, never on a command line (visible to every local user)
and never to the terminal; each service receives only its own settings and keys
(``toolmesh_cli.mesh_env``). Everything under the state directory is for its owner only: the
directories are 0700, and the log files and whatever the services write (they run with umask
077) are 0600.

``start_mesh`` is idempotent: services of the recorded mesh that still run and answer their
health check are adopted as they are; the others are started again on their recorded ports,
with the same keys and data. ``restart_services`` stops some services and brings them back the
same way.

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
from toolmesh_cli.mesh_env import TOOL_SERVICES, service_environment

__all__ = [
    "DEFAULT_PORTS",
    "KEEP_ALIVE_SECONDS",
    "TOOL_SERVICES",
    "Mesh",
    "MeshPorts",
    "ServiceRecord",
    "ServiceState",
    "data_dir",
    "load_mesh",
    "project_root",
    "restart_services",
    "service_states",
    "start_mesh",
]

DEFAULT_START_TIMEOUT = 90.0
"""Seconds a service may take to answer /healthz (the host imports the whole function app)."""

KEEP_ALIVE_SECONDS = 75
"""How long every server of the mesh keeps an idle connection open.

Clients pool connections and reuse one that has been idle for up to their own limit (aiohttp's
is 15 s; Azure's front ends use 60 s or more). A server that closes sooner (uvicorn's default is
5 s) races a request sent on that connection at the moment it closes, and the request fails
without ever reaching the app. So the server always waits longer than any client keeps one."""

ADOPT_WAIT_SECONDS = 5.0
"""How long a recorded service that runs but does not answer may take before it is restarted."""

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
    ports: MeshPorts = DEFAULT_PORTS
    """Every service's port, also of tools not started, since the host's registry names them all."""
    adopted: tuple[str, ...] = ()
    """Services that were running already when this mesh was brought up, and were kept."""
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
        _stop(self.services, self._processes, timeout)
        state_file = self.state_dir / "mesh.json"
        if state_file.exists() and _read_state_pids(state_file) == {r.pid for r in self.services}:
            state_file.unlink()

    def to_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "ports": asdict(self.ports),
            "services": [asdict(record) for record in self.services],
        }


def project_root() -> Path:
    """The checkout holding tools/, llm_gateway/ and orchestrator/ (this file is in orchestrator/)."""
    return Path(__file__).resolve().parents[2]


def data_dir(state_dir: Path, service: str) -> Path:
    """Where ``service`` keeps its data: ``<state dir>/data/<service>/``."""
    return state_dir / "data" / service


def database_path(state_dir: Path, service: str) -> Path:
    """The SQLite file of a tool or the gateway (the services' own default, under ``state_dir``)."""
    return data_dir(state_dir, service) / f"{service}.sqlite3"


def start_mesh(
    state_dir: Path,
    *,
    ports: MeshPorts | None = None,
    service_env: Mapping[str, Mapping[str, str]] | None = None,
    root: Path | None = None,
    tools: Sequence[str] | None = None,
    timeout: float = DEFAULT_START_TIMEOUT,
) -> Mesh:
    """Bring the mesh up: adopt the recorded services that run and answer, start the others.

    Tools and gateway start first and must answer /healthz before the host starts. A mesh
    recorded in ``state_dir`` keeps its ports (``ports`` is for a first start), its keys and its
    data; a recorded service whose process is gone, or that does not answer, is started again.
    ``service_env`` adds variables to one service's environment, by service name (e.g.
    ``OPENAI_BASE_URL`` or ``TOOLMESH_GATEWAY_CONFIG`` for the gateway). ``tools`` picks which tool
    services to start on top of those already recorded (by default: all for a new mesh, the
    recorded ones for a recorded mesh; the registry reports any it names that are not running).
    On any failure every service started by this call is stopped again and ``ServiceStartError``
    names the one that failed and its log.
    """
    root = (root or project_root()).resolve()
    state_dir = state_dir.resolve()
    unknown = sorted(set(tools or ()) - set(TOOL_SERVICES))
    if unknown:
        raise MeshError(f"unknown tool service(s): {', '.join(unknown)}; known: {', '.join(TOOL_SERVICES)}")
    existing = load_mesh(state_dir)
    recorded = {record.name: record for record in existing.services} if existing else {}
    if tools is None:
        tools = () if existing else TOOL_SERVICES
    ports = existing.ports if existing else (ports or DEFAULT_PORTS)
    wanted = [name for name in TOOL_SERVICES if name in tools or name in recorded]
    _check_layout(root, wanted)
    _prepare_state_dir(state_dir, migrate=not any(_is_ours(r) for r in recorded.values()))
    adopted: list[ServiceRecord] = []
    to_start: list[str] = []
    for name in (*wanted, "gateway", "host"):
        record = recorded.get(name)
        if record is not None and _is_ours(record) and _answers(record.url, ADOPT_WAIT_SECONDS):
            adopted.append(record)
            continue
        if record is not None and _is_ours(record):
            _stop([record], {}, 10.0)  # alive but not answering: hung, so it starts afresh
        to_start.append(name)
    for name in to_start:
        _check_port_free(name, ports.of(name))
    keys = _load_or_create_secrets(state_dir)
    urls = {name: _url(ports.of(name)) for name in ("host", "gateway", *TOOL_SERVICES)}
    extra = service_env or {}

    started: list[tuple[ServiceRecord, subprocess.Popen[bytes]]] = []
    try:
        backends = [name for name in to_start if name != "host"]
        for name in backends:
            own = {**_own_env(name, state_dir, keys, urls, root), **extra.get(name, {})}
            argv, marker = _command(name, ports.of(name), state_dir, root)
            env = service_environment(name, os.environ, root, own)
            started.append(_launch(name, argv, marker, urls[name], state_dir, root, env))
        for record, process in started:
            _wait_healthy(record, process, timeout)
        if "host" in to_start:
            own = {**_own_env("host", state_dir, keys, urls, root), **extra.get("host", {})}
            argv, marker = _command("host", ports.host, state_dir, root)
            env = service_environment("host", os.environ, root, own)
            host = _launch("host", argv, marker, urls["host"], state_dir, root, env)
            started.append(host)
            _wait_healthy(*host, timeout)
    except BaseException:
        _stop(tuple(r for r, _ in started), {r.name: p for r, p in started}, 15.0)
        raise
    by_name = {record.name: record for record in [*adopted, *(r for r, _ in started)]}
    mesh = Mesh(
        state_dir=state_dir,
        services=tuple(by_name[name] for name in (*wanted, "gateway", "host")),
        started_at=existing.started_at if existing and adopted else time.time(),
        ports=ports,
        adopted=tuple(record.name for record in adopted),
        _processes={r.name: p for r, p in started},
    )
    _write_private(state_dir / "mesh.json", json.dumps(mesh.to_dict(), indent=2))
    return mesh


def restart_services(
    state_dir: Path,
    names: Sequence[str] = (),
    *,
    service_env: Mapping[str, Mapping[str, str]] | None = None,
    root: Path | None = None,
    timeout: float = DEFAULT_START_TIMEOUT,
    stop_timeout: float = 15.0,
) -> Mesh:
    """Stop ``names`` (every service when empty) and bring them back on their ports, with their data.

    The other services are adopted as they run; a host restarted here finds its runs in its store.
    """
    mesh = load_mesh(state_dir)
    if mesh is None:
        raise MeshError(f"no mesh recorded in {state_dir.resolve()} (`toolmesh up` starts one)")
    recorded = [record.name for record in mesh.services]
    unknown = sorted(set(names) - set(recorded))
    if unknown:
        raise MeshError(f"the mesh has no service named {', '.join(unknown)}; it has {', '.join(recorded)}")
    chosen = set(names or recorded)
    _stop(tuple(r for r in mesh.services if r.name in chosen), {}, stop_timeout)
    return start_mesh(state_dir, service_env=service_env, root=root, timeout=timeout)


def load_mesh(state_dir: Path) -> Mesh | None:
    """The mesh recorded in ``state_dir/mesh.json``, or None when nothing was started there."""
    state_file = state_dir.resolve() / "mesh.json"
    if not state_file.is_file():
        return None
    try:
        data = json.loads(state_file.read_text())
        services = tuple(ServiceRecord(**item) for item in data["services"])
        ports = data.get("ports") or {**asdict(DEFAULT_PORTS), **{s.name: s.port for s in services}}
        return Mesh(
            state_dir=state_dir.resolve(),
            services=services,
            started_at=float(data["started_at"]),
            ports=MeshPorts(**ports),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MeshError(f"{state_file} is unreadable ({exc}); remove it if no mesh is running") from exc


def service_states(mesh: Mesh, *, check_health: bool = True) -> list[ServiceState]:
    """Whether each recorded process still runs and answers its health check."""
    states = []
    for record in mesh.services:
        alive = _is_ours(record)
        states.append(
            ServiceState(
                name=record.name,
                pid=record.pid,
                url=record.url,
                alive=alive,
                healthy=alive and check_health and _answers(record.url, 0.0),
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


# -- commands and environment -------------------------------------------------------------------


def _url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def _command(name: str, port: int, state_dir: Path, root: Path) -> tuple[list[str], str]:
    """The ``python`` arguments that run ``name`` on ``port``, and the marker of its command line."""
    if name == "host":
        argv = ["-m", "durable_host", "--app-dir", str(root / "orchestrator"), "--host", "127.0.0.1"]
        return [*argv, "--port", str(port), "--data-dir", str(data_dir(state_dir, "host"))], "durable_host"
    module = "llm_gateway.main:app" if name == "gateway" else f"tools.{name}.main:app"
    argv = ["-m", "uvicorn", module, "--host", "127.0.0.1", "--port", str(port)]
    return [*argv, "--timeout-keep-alive", str(KEEP_ALIVE_SECONDS)], module


def _own_env(
    name: str, state_dir: Path, keys: Mapping[str, str], urls: Mapping[str, str], root: Path
) -> dict[str, str]:
    """The settings and keys the mesh gives ``name`` itself."""
    if name == "gateway":
        return {
            "TOOLMESH_GATEWAY_API_KEYS": keys["TOOLMESH_GATEWAY_KEY"],
            "TOOLMESH_GATEWAY_DB": str(database_path(state_dir, "gateway")),
        }
    if name == "host":
        env = {f"{tool.upper()}_URL": urls[tool] for tool in TOOL_SERVICES}
        env["LLM_GATEWAY_URL"] = urls["gateway"]
        env["TOOLMESH_PUBLIC_URL"] = urls["host"]
        env["TOOLMESH_REGISTRY"] = str(root / "specs" / "registry.yaml")
        env["TOOLMESH_CONVERSATION_DB"] = str(data_dir(state_dir, "host") / "conversations.sqlite3")
        env.update(keys)
        return env
    prefix = name.upper()
    return {f"{prefix}_API_KEY": keys[f"{prefix}_API_KEY"], f"{prefix}_DB": str(database_path(state_dir, name))}


def _prepare_state_dir(state_dir: Path, *, migrate: bool) -> None:
    """Create the folders (owner only), tighten older files, and move data from the older layout."""
    services = ("host", "gateway", *TOOL_SERVICES)
    folders = [state_dir, state_dir / "logs", state_dir / "data", *(data_dir(state_dir, s) for s in services)]
    if migrate:
        _move_old_data(state_dir)
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
    for path in state_dir.rglob("*"):
        if path.is_file():
            path.chmod(0o600)  # files an older version left readable


def _move_old_data(state_dir: Path) -> None:
    """Data an older version kept at ``data/<service>.sqlite3`` and ``host/`` moves to ``data/<service>/``."""
    old_host, new_host = state_dir / "host", data_dir(state_dir, "host")
    if old_host.is_dir() and not new_host.exists():
        new_host.parent.mkdir(parents=True, exist_ok=True)
        old_host.rename(new_host)
    for service in ("gateway", *TOOL_SERVICES):
        old = state_dir / "data" / f"{service}.sqlite3"
        if old.is_file() and not database_path(state_dir, service).exists():
            data_dir(state_dir, service).mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm"):
                part = old.with_name(old.name + suffix)
                if part.exists():
                    part.rename(database_path(state_dir, service).with_name(part.name))


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
    """Fail when something listens on ``port``; a port left in TIME-WAIT by a stopped server is free.

    The servers set SO_REUSEADDR (uvicorn does), so they can bind a port whose last connections
    are still in TIME-WAIT after a stop or a crash; the check binds the same way, or it would
    refuse such a port for a minute that the server itself could take at once.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise MeshError(
                f"port {port} for {name} is in use ({exc.strerror}) by a process this mesh did not start; "
                "stop what uses it or start with other ports (`toolmesh up --auto-ports`)"
            ) from exc


def _answers(url: str, wait: float) -> bool:
    """Whether ``url`` answers /healthz with 200, trying for up to ``wait`` seconds."""
    deadline = time.monotonic() + wait
    with httpx.Client(timeout=2.0) as client:
        while True:
            try:
                if client.get(url + "/healthz").status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)


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


def _stop(records: Sequence[ServiceRecord], processes: Mapping[str, subprocess.Popen[bytes]], timeout: float) -> None:
    """SIGTERM ``records`` (the host first, so no new calls start), then SIGKILL those still there."""
    ordered = sorted(records, key=lambda r: r.name != "host")
    for record in ordered:
        _terminate(record, processes.get(record.name))
    deadline = time.monotonic() + timeout
    for record in ordered:
        _wait_gone(record, processes.get(record.name), deadline)


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
