from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import RunningServer, start_uvicorn

TOKEN = "projects-secret-token-5f1c"


@pytest.fixture(scope="module")
def projects_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("projects-mcp")
    server = start_uvicorn(
        "tests.support.mcp_server:app", log_path=root / "projects.log", env={"PROJECTS_MCP_TOKEN": TOKEN}
    )
    try:
        yield server
    finally:
        server.stop()
