"""Fixtures: the local durable host running a test app as a real process on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import RunningServer, free_port, start_server
from tests.support.waiting import wait_until

APPS = Path(__file__).parent / "apps"
KEY = "test-functions-key"
MGMT = "/runtime/webhooks/durabletask"
TERMINAL = {"Completed", "Failed", "Terminated", "Canceled"}


@dataclass
class Host:
    """A running host plus helpers for talking to it."""

    server: RunningServer
    data_dir: Path
    marks_dir: Path
    app: str

    @property
    def url(self) -> str:
        return self.server.url

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"x-functions-key": KEY}, timeout=30)

    def start(self, name: str, payload: Any = None, instance_id: str | None = None) -> str:
        """Start through the app's starter function, i.e. through the SDK's ``start_new``."""
        path = f"/api/orchestrators/{name}" + (f"/{instance_id}" if instance_id else "")
        with self.client() as client:
            response = client.post(path, json=payload) if payload is not None else client.post(path)
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def status(self, instance_id: str, **params: str) -> dict[str, Any]:
        with self.client() as client:
            response = client.get(f"{MGMT}/instances/{instance_id}", params=params)
        assert response.status_code in (200, 202), response.text
        return dict(response.json())

    def wait(self, instance_id: str, timeout: float = 30.0, statuses: set[str] = TERMINAL) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        def reached() -> dict[str, Any] | None:
            seen.update(self.status(instance_id))
            return dict(seen) if seen["runtimeStatus"] in statuses else None

        try:
            return wait_until(reached, timeout=timeout, interval=0.05)
        except AssertionError:
            raise AssertionError(f"instance {instance_id} still {seen.get('runtimeStatus')}: {seen}") from None

    def stop(self) -> None:
        self.server.stop()


def launch_host(
    app: str,
    data_dir: Path,
    marks_dir: Path,
    *,
    key: str | None = KEY,
    port: int | None = None,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
    app_dir: Path | None = None,
) -> Host:
    port = port or free_port()
    marks_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "-m",
        "durable_host",
        "--app-dir",
        str(app_dir or APPS / app),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        *(extra or []),
    ]
    if key is not None:
        args += ["--functions-key", key]
    server = start_server(
        args,
        port=port,
        log_path=data_dir.parent / f"host-{app}-{port}.log",
        env={"CONFORMANCE_MARKS_DIR": str(marks_dir), **(env or {})},
    )
    return Host(server=server, data_dir=data_dir, marks_dir=marks_dir, app=app)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    base = tmp_path_factory.mktemp("durable-host")
    running = launch_host("basic", base / "data", base / "marks")
    yield running
    running.stop()
