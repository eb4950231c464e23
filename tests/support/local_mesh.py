"""A whole mesh on loopback ports: four tools, the gateway and the local durable host, as processes.

The host is started separately from the rest so that tests can SIGKILL and restart it on the
same data directory, the crash the durable store must survive.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.servers import REPO_ROOT, RunningServer, free_port, start_server, start_uvicorn

TOOLS = ("notes", "issues", "calc", "mailbox")
FINISHED = {"Completed", "Failed", "Terminated", "Canceled"}


@dataclass
class Mesh:
    root: Path
    services: dict[str, RunningServer]
    keys: dict[str, str]
    host_env: dict[str, str]
    host_port: int
    host: RunningServer | None = None
    extra: list[RunningServer] = field(default_factory=list)
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    """Each tool's and the gateway's own environment, to start it again as it was."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.host_port}"

    def api(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"x-functions-key": self.keys["functions"]}, timeout=timeout)

    def tool(self, name: str) -> httpx.Client:
        return httpx.Client(base_url=self.services[name].url, headers={"X-API-Key": self.keys[name]}, timeout=10.0)

    def start_host(self) -> RunningServer:
        self.host = start_server(
            [
                "-m",
                "durable_host",
                "--app-dir",
                str(REPO_ROOT / "orchestrator"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.host_port),
                "--data-dir",
                str(self.root / "host"),
            ],
            port=self.host_port,
            log_path=self.root / "logs" / "host.log",
            env=self.host_env,
            timeout=90,
        )
        return self.host

    def start_service(self, name: str, *, port: int | None = None) -> RunningServer:
        """Start a tool or the gateway again, with its environment and data, on its port or ``port``."""
        module = "llm_gateway.main:app" if name == "gateway" else f"tools.{name}.main:app"
        server = start_uvicorn(
            module,
            log_path=self.root / "logs" / f"{name}.log",
            env=self.service_env[name],
            port=port or self.services[name].port,
            timeout=90,
        )
        self.services[name] = server
        return server

    def stop(self) -> None:
        for server in [*([self.host] if self.host else []), *self.extra, *self.services.values()]:
            server.stop()

    def start_run(self, body: Mapping[str, Any], api: httpx.Client | None = None) -> str:
        """Start a run; pass ``api`` to reuse one client for many starts (it is thread-safe)."""
        if api is None:
            with self.api() as client:
                return self.start_run(body, client)
        response = api.post("/api/runs", json=body)
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def wait(
        self, run_id: str, until: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 120.0
    ) -> dict[str, Any]:
        """Poll the run until ``until`` holds (default: finished); fail with the last view and the log."""
        until = until or (lambda view: view["status"] in FINISHED)
        deadline = time.monotonic() + timeout
        view: dict[str, Any] = {}
        with self.api() as api:
            while time.monotonic() < deadline:
                try:
                    response = api.get(f"/api/runs/{run_id}")
                except httpx.TransportError:
                    time.sleep(0.2)
                    continue
                if response.status_code == 200:
                    view = response.json()
                    if until(view):
                        return view
                time.sleep(0.2)
        log = self.host.log()[-4000:] if self.host else ""
        raise AssertionError(f"run {run_id} did not reach the wanted state in {timeout}s: {view}\n{log}")


def start_mesh(
    root: Path,
    *,
    gateway_env: Mapping[str, str] | None = None,
    registry: Path | None = None,
    host_env: Mapping[str, str] | None = None,
) -> Mesh:
    """Start the four tools and the gateway, then the host; ``registry`` replaces specs/registry.yaml."""
    keys = {name: secrets.token_urlsafe(16) for name in (*TOOLS, "gateway", "functions", "callback")}
    services: dict[str, RunningServer] = {}
    service_env = {
        name: {f"{name.upper()}_API_KEY": keys[name], f"{name.upper()}_DB": str(root / f"{name}.sqlite3")}
        for name in TOOLS
    }
    service_env["gateway"] = {
        "TOOLMESH_GATEWAY_API_KEYS": keys["gateway"],
        "TOOLMESH_GATEWAY_DB": str(root / "gateway.sqlite3"),
        **(gateway_env or {}),
    }
    try:
        for name in TOOLS:
            services[name] = start_uvicorn(
                f"tools.{name}.main:app", log_path=root / "logs" / f"{name}.log", env=service_env[name]
            )
        services["gateway"] = start_uvicorn(
            "llm_gateway.main:app", log_path=root / "logs" / "gateway.log", env=service_env["gateway"]
        )
    except BaseException:
        for server in services.values():
            server.stop()
        raise
    host_port = free_port()
    env = {
        **{f"{name.upper()}_URL": services[name].url for name in TOOLS},
        **{f"{name.upper()}_API_KEY": keys[name] for name in TOOLS},
        "LLM_GATEWAY_URL": services["gateway"].url,
        "TOOLMESH_GATEWAY_KEY": keys["gateway"],
        "TOOLMESH_FUNCTIONS_KEY": keys["functions"],
        "TOOLMESH_CALLBACK_SECRET": keys["callback"],
        "TOOLMESH_PUBLIC_URL": f"http://127.0.0.1:{host_port}",
        "TOOLMESH_CONVERSATION_DB": str(root / "conversations.sqlite3"),
        "TOOLMESH_REGISTRY": str(registry or REPO_ROOT / "specs" / "registry.yaml"),
        **(host_env or {}),
    }
    mesh = Mesh(root=root, services=services, keys=keys, host_env=env, host_port=host_port, service_env=service_env)
    try:
        mesh.start_host()
    except BaseException:
        mesh.stop()
        raise
    return mesh


def scripted_gateway_config(root: Path, scripts: Mapping[str, list[dict[str, Any]]]) -> Path:
    """A gateway config with one scripted model alias per script (unmatched requests answered offline)."""
    models: dict[str, Any] = {"default": {"deployments": [{"provider": "offline"}]}}
    for alias, entries in scripts.items():
        script = root / f"{alias}.yaml"
        script.write_text(yaml.safe_dump({"model": f"scripted-{alias}", "on_no_match": "offline", "entries": entries}))
        models[alias] = {"deployments": [{"provider": "scripted", "script": script.name}]}
    config = root / "gateway.yaml"
    config.write_text(yaml.safe_dump({"models": models}))
    return config


@contextmanager
def mesh_with_fake_upstream(
    root: Path,
    models: Mapping[str, str],
    *,
    host_env: Mapping[str, str] | None = None,
    upstream_env: Mapping[str, str] | None = None,
) -> Iterator[Mesh]:
    """A mesh whose gateway sends each model alias of ``models`` to the fake OpenAI upstream.

    ``models`` maps an alias to the upstream model it asks for, with its directives (e.g.
    ``held?chunks=8&hold_after=2``, see tests/support/fake_openai.py); ``default`` stays offline.
    The upstream (started with ``upstream_env``) is ``mesh.extra[0]``.
    """
    upstream = start_uvicorn(
        "tests.support.fake_openai:app", log_path=root / "logs" / "upstream.log", env=dict(upstream_env or {})
    )
    config: dict[str, Any] = {"default": {"deployments": [{"provider": "offline"}]}}
    for alias, model in models.items():
        deployment = {"provider": "openai", "base_url": f"{upstream.url}/v1", "api_key": "sk-fake", "model": model}
        config[alias] = {"deployments": [deployment]}
    (root / "gateway.yaml").write_text(yaml.safe_dump({"models": config}))
    try:
        mesh = start_mesh(root, gateway_env={"TOOLMESH_GATEWAY_CONFIG": str(root / "gateway.yaml")}, host_env=host_env)
    except BaseException:
        upstream.stop()
        raise
    mesh.extra.append(upstream)
    try:
        yield mesh
    finally:
        mesh.stop()
