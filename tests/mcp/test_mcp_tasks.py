"""Long-running MCP tools as tasks, against a real server that speaks the tasks extension."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mcp_engine import cancel_mcp_task, invoke_mcp, load_mcp_entry, poll_mcp_task
from openapi_engine import ToolFunction, build_catalog
from openapi_engine.registry import parse_registry
from tests.mcp.conftest import TOKEN
from tests.support.servers import RunningServer

SETTINGS = {"PROJECTS_MCP_TOKEN": TOKEN}


def _export(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> ToolFunction:
    monkeypatch.setenv("PROJECTS_MCP_TOKEN", TOKEN)
    entry = {"kind": "mcp", "url": f"{server.url}/mcp", "auth": {"bearer": "PROJECTS_MCP_TOKEN"}}
    registry = parse_registry({"tools": {"projects": entry}}, source="test", base_dir=Path("."), environ={})
    function = build_catalog(registry, loaders={"mcp": load_mcp_entry}).function("export_project")
    assert function is not None
    return function


async def test_a_long_call_returns_a_task_that_is_polled_until_its_result(
    projects_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    function = _export(projects_server, monkeypatch)
    url = f"{projects_server.url}/mcp"
    started = await invoke_mcp(
        function, {"name": "apollo"}, url=url, settings=SETTINGS, idempotency_key="key-apollo-1", run_id="r1"
    )
    assert not started.ok and started.task is not None, started
    assert started.task["status"] == "working" and started.task["poll_interval_ms"] == 200
    task_id = started.task["id"]
    # The same call made again (a retried activity) gets the same task, not a second export.
    again = await invoke_mcp(
        function, {"name": "apollo"}, url=url, settings=SETTINGS, idempotency_key="key-apollo-1", run_id="r1"
    )
    assert again.task is not None and again.task["id"] == task_id
    working = await poll_mcp_task(function, task_id, url=url, settings=SETTINGS, run_id="r1")
    assert working.task is not None and working.task["message"] == "exporting apollo"
    assert httpx.post(f"{projects_server.url}/tasks/finish").json()["finished"] == [task_id]
    done = await poll_mcp_task(function, task_id, url=url, settings=SETTINGS, run_id="r1")
    assert done.ok and done.task is None and done.body == "export of apollo: 3 files", done


async def test_a_task_can_be_cancelled_and_an_unknown_one_is_a_clear_failure(
    projects_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    function = _export(projects_server, monkeypatch)
    url = f"{projects_server.url}/mcp"
    started = await invoke_mcp(function, {"name": "gemini"}, url=url, settings=SETTINGS, idempotency_key="key-g")
    assert started.task is not None
    cancelled = await cancel_mcp_task(function, started.task["id"], url=url, settings=SETTINGS)
    assert cancelled.ok, cancelled
    after = await poll_mcp_task(function, started.task["id"], url=url, settings=SETTINGS)
    assert not after.ok and after.task is None and "cancelled" in str(after.error)
    unknown = await poll_mcp_task(function, "no-such-task", url=url, settings=SETTINGS)
    assert not unknown.ok and not unknown.retryable and "no task no-such-task" in str(unknown.error)
    no_key = await poll_mcp_task(function, started.task["id"], url=url, settings={})
    assert not no_key.ok and "PROJECTS_MCP_TOKEN" in str(no_key.error)


def test_polls_back_off_by_half_up_to_five_minutes_and_honour_the_servers_interval() -> None:
    from agent_loop.mcp_tasks import next_poll_delay

    delays: list[float] = []
    delay = None
    for _ in range(20):
        delay = next_poll_delay(200, delay)
        delays.append(delay)
    assert delays[:3] == [1.0, 1.5, 2.25] and delays[-1] == 300.0
    assert next_poll_delay(30_000, None) == 30.0  # the server asks for less often
    assert next_poll_delay(None, 2.0) == 3.0
