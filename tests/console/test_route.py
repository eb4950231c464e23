"""The console blueprint served by the local durable host: anonymous, with its CSP headers."""

from __future__ import annotations

from pathlib import Path

import httpx

from console import console_headers, render_console
from tests.support.servers import REPO_ROOT, free_port, start_server

APP_DIR = Path(__file__).parent / "apps" / "console_only"


def test_host_serves_the_console_anonymously_with_its_headers(tmp_path: Path) -> None:
    port = free_port()
    server = start_server(
        ["-m", "durable_host", "--app-dir", str(APP_DIR), "--port", str(port), "--data-dir", str(tmp_path)],
        port=port,
        log_path=tmp_path / "host.log",
        env={"TOOLMESH_FUNCTIONS_KEY": "route-test-key"},
        cwd=REPO_ROOT,
    )
    try:
        response = httpx.get(server.url + "/console")
        assert response.status_code == 200, server.log()
        assert response.text == render_console()
        assert response.headers["content-type"].startswith("text/html")
        expected = console_headers()["Content-Security-Policy"]
        assert response.headers["content-security-policy"] == expected
        assert response.headers["x-frame-options"] == "DENY"
    finally:
        server.stop()
