"""Tool calls keep no cookie state: what one call's answer sets is never sent on another call.

The activities share one pooled HTTP session per event loop across every run and tool, so a
cookie jar there would carry one run's (or one tool's) session into another's calls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from agent_loop.activities import invoke_with_retries
from openapi_engine import ToolFunction, ToolInfo
from tests.support.servers import RunningServer, start_uvicorn


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_uvicorn("tests.openapi_engine.echo_app:app", log_path=tmp_path_factory.mktemp("echo") / "echo.log")
    try:
        yield server
    finally:
        server.stop()


def _get(name: str, path: str) -> ToolFunction:
    return ToolFunction(
        name=name,
        tool=name,
        operation_id=name,
        method="GET",
        path=path,
        description="",
        parameters={"type": "object", "properties": {}},
    )


async def test_a_cookie_set_for_one_call_is_not_sent_on_any_other(echo: RunningServer) -> None:
    # A host name, not an IP address: cookie jars keep cookies only for names.
    base_url = f"http://localhost:{echo.port}"
    setter = _get("setter", "/set-cookie")
    tools = {name: ToolInfo(name=name, base_url=base_url, spec="") for name in ("setter", "reader")}
    first = await invoke_with_retries(setter, tools["setter"], {}, run_id="run-a", call_id="c1", max_attempts=1)
    assert first.ok, first
    # The same tool again, another tool on the same host, and another run.
    for tool, run_id in (("setter", "run-a"), ("reader", "run-a"), ("reader", "run-b")):
        echo_call = _get(tool, "/echo")
        result = await invoke_with_retries(echo_call, tools[tool], {}, run_id=run_id, call_id="c2", max_attempts=1)
        assert result.ok, result
        assert "cookie" not in json.loads(result.body)["headers"], (tool, run_id, result.body)
