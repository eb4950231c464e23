"""Fixtures that run each tool service as a real process on a loopback port."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.servers import RunningServer, start_uvicorn

API_KEY = "test-key-0123456789"

StartService = Callable[..., RunningServer]


@pytest.fixture(scope="module")
def start_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartService]:
    """Start ``tools.<name>.main:app``; every server started is stopped at module end.

    ``env`` entries are given without the service prefix (``DB``, ``API_KEY``...);
    the database defaults to a fresh file and the API key to ``API_KEY``.
    """
    servers: list[RunningServer] = []
    base = tmp_path_factory.mktemp("service")

    def start(name: str, *, db: Path | None = None, api_key: str | None = API_KEY, **env: str) -> RunningServer:
        prefix = name.upper()
        values = {f"{prefix}_DB": str(db or base / f"{name}-{len(servers)}.sqlite3")}
        if api_key is not None:
            values[f"{prefix}_API_KEY"] = api_key
        values.update({f"{prefix}_{key.upper()}": value for key, value in env.items()})
        server = start_uvicorn(f"tools.{name}.main:app", log_path=base / f"{name}-{len(servers)}.log", env=values)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def client(server: RunningServer, *, api_key: str | None = API_KEY) -> httpx.Client:
    headers = {"X-API-Key": api_key} if api_key is not None else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=10.0)
