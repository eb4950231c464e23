"""toolmesh as an MCP server: an official MCP client drives runs through /api/mcp on the local host."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, ElicitRequestFormParams, ElicitRequestParams, ElicitResult, TextContent
from typer.testing import CliRunner

from openapi_engine import check_tools
from tests.mcp.conftest import TOKEN
from tests.support.local_mesh import FINISHED, Mesh
from tests.support.servers import RunningServer
from toolmesh_cli.main import app


@asynccontextmanager
async def _client(
    mesh: Mesh, headers: Mapping[str, str], path: str = "/api/mcp", **options: Any
) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers=dict(headers), timeout=30) as http:
        async with Client(streamable_http_client(f"{mesh.url}{path}", http_client=http), **options) as client:
            yield client


def _key(mesh: Mesh) -> dict[str, str]:
    return {"x-functions-key": mesh.keys["functions"]}


async def _poll(client: Client, run_id: str, until: Any, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    view: dict[str, Any] = {}
    while time.monotonic() < deadline:
        result = await client.call_tool("get_run", {"run_id": run_id})
        assert not result.is_error, result
        view = result.structured_content or {}
        if until(view):
            return view
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} did not get there: {view}")


def _structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def test_an_mcp_client_starts_follows_approves_and_reads_a_run(
    mcp_mesh: Mesh, projects_server: RunningServer
) -> None:
    async with _client(mcp_mesh, _key(mcp_mesh)) as client:
        listed = await client.list_tools()
        names = {tool.name for tool in listed.tools}
        assert names == {
            "start_run",
            "get_run",
            "list_runs",
            "decide_approval",
            "cancel_run",
            "send_message",
            "read_messages",
        }
        bad = await client.call_tool("start_run", {"objective": ""})
        assert bad.is_error and "objective" in bad.content[0].text  # type: ignore[union-attr]
        started = _structured(
            await client.call_tool(
                "start_run",
                {"objective": "Clean up projects", "initial_tasks": ["Delete archived projects"], "model": "mcp"},
            )
        )
        run_id = started["id"]
        view = await _poll(client, run_id, lambda v: bool((v.get("progress") or {}).get("approvals")))
        pending = view["progress"]["approvals"][0]
        assert pending["function"] == "delete_project"
        sent = _structured(
            await client.call_tool("send_message", {"run_id": run_id, "author": "Ada", "text": "How is it going?"})
        )
        assert sent["status"] == "pending" and sent["author"] == "Ada"
        deadline = time.monotonic() + 60
        while True:
            page = _structured(await client.call_tool("read_messages", {"run_id": run_id}))
            mine = next(m for m in page["messages"] if m["id"] == sent["id"])
            if mine["status"] == "taken" or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert mine["outcome"] == "answered", page
        assert any(m["role"] == "agent" for m in page["messages"])
        empty = await client.call_tool("send_message", {"run_id": run_id, "author": "Ada", "text": ""})
        assert empty.is_error
        runs = _structured(await client.call_tool("list_runs", {"status": ["Running"], "limit": 10}))["runs"]
        assert run_id in [r["id"] for r in runs]
        unknown = await client.call_tool("decide_approval", {"run_id": run_id, "call_id": "nope", "approve": True})
        assert unknown.is_error and "not waiting for approval" in unknown.content[0].text  # type: ignore[union-attr]
        decided = await client.call_tool(
            "decide_approval", {"run_id": run_id, "call_id": pending["call_id"], "approve": True, "comment": "ok"}
        )
        assert _structured(decided)["approve"] is True
        final = await _poll(client, run_id, lambda v: v.get("status") in FINISHED)
    report = final["output"]
    assert report["outcome"] == "completed" and report["tasks"][0]["result"] == "gemini is gone"
    assert httpx.get(f"{projects_server.url}/state").json()["deleted"][-1] == "gemini"


async def test_a_pending_approval_reaches_a_client_that_can_ask_its_user(mcp_mesh: Mesh) -> None:
    asked: list[str] = []

    async def answer(_: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams)
        asked.append(params.message)
        return ElicitResult(action="accept", content={"approve": False, "comment": "not this one"})

    async with _client(mcp_mesh, _key(mcp_mesh), elicitation_callback=answer) as client:
        started = _structured(
            await client.call_tool(
                "start_run", {"objective": "Clean up", "initial_tasks": ["Delete archived projects"], "model": "mcp"}
            )
        )
        run_id = started["id"]
        await _poll(client, run_id, lambda v: v.get("status") in FINISHED or bool(asked), timeout=90)
        final = await _poll(client, run_id, lambda v: v.get("status") in FINISHED)
    assert asked and "delete_project" in asked[0]
    calls = [c for t in final["output"]["tasks"] for c in t["tool_calls"]]
    assert [c["function"] for c in calls][:2] == ["list_projects", "delete_project"]
    assert calls[1]["ok"] is False
    summaries = [c["summary"] for c in final["progress"]["tool_calls"]]
    assert "denied" in summaries[1] and "not this one" in summaries[1]


async def test_the_endpoint_refuses_a_client_without_the_key(mcp_mesh: Mesh) -> None:
    raw = httpx.post(
        f"{mcp_mesh.url}/api/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        headers={"accept": "application/json, text/event-stream"},
    )
    assert raw.status_code == 401
    with pytest.raises(Exception):  # noqa: B017 - the SDK reports the refusal in its own way
        async with _client(mcp_mesh, {"x-functions-key": "wrong"}) as client:
            await client.list_tools()


async def test_the_endpoint_tools_pass_the_openai_rules(mcp_mesh: Mesh) -> None:
    """The run API's own tools could be handed to a model as they are."""
    async with _client(mcp_mesh, _key(mcp_mesh)) as client:
        tools = (await client.list_tools()).tools
    openai = [
        {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.input_schema}}
        for t in tools
    ]
    assert check_tools(openai) == []


async def test_a_client_on_the_older_handshake_revision_is_served_too(mcp_mesh: Mesh) -> None:
    async with _client(mcp_mesh, _key(mcp_mesh), mode="legacy") as client:
        assert client.protocol_version == "2025-11-25"
        runs = await client.call_tool("list_runs", {"limit": 5})
    assert isinstance(_structured(runs)["runs"], list)


async def test_toolmesh_mcp_prints_a_configuration_a_client_can_use(mcp_mesh: Mesh, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--url", mcp_mesh.url, "--key", mcp_mesh.keys["functions"], "--state-dir", str(tmp_path)]
    hidden = runner.invoke(app, [*base, "mcp"], catch_exceptions=False)
    assert hidden.exit_code == 0, hidden.output
    assert mcp_mesh.keys["functions"] not in hidden.output
    entry = json.loads(hidden.output)["mcpServers"]["toolmesh"]
    assert entry["headers"] == {"x-functions-key": "${TOOLMESH_FUNCTIONS_KEY}"}
    shown = runner.invoke(app, [*base, "mcp", "--show-key"], catch_exceptions=False)
    entry = json.loads(shown.output)["mcpServers"]["toolmesh"]
    assert entry["type"] == "http"
    async with _client(mcp_mesh, entry["headers"]) as client:  # the snippet, used as a client would
        assert "start_run" in {tool.name for tool in (await client.list_tools()).tools}
    assert entry["url"] == f"{mcp_mesh.url}/api/mcp"


async def test_a_tools_question_reaches_the_mcp_clients_user_and_the_answer_goes_back(mcp_mesh: Mesh) -> None:
    asked: list[str] = []

    async def answer(_: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams)
        asked.append(params.message)
        assert params.requested_schema["required"] == ["reason"]
        return ElicitResult(action="accept", content={"reason": "asked over MCP"})

    async with _client(mcp_mesh, _key(mcp_mesh), elicitation_callback=answer) as client:
        started = _structured(
            await client.call_tool(
                "start_run", {"objective": "Archive", "initial_tasks": ["Archive apollo"], "model": "mcp-input"}
            )
        )
        final = await _poll(client, started["id"], lambda v: v.get("status") in FINISHED)
    assert asked == ["archive_project asks: Why should apollo be archived?"]
    assert "archived: asked over MCP" in final["progress"]["tool_calls"][0]["summary"]


def _text(result: CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


async def test_the_catalog_is_an_mcp_server_for_the_tools_that_need_no_person(
    mcp_mesh: Mesh, projects_server: RunningServer, tmp_path: Path
) -> None:
    base = ["--url", mcp_mesh.url, "--key", mcp_mesh.keys["functions"], "--state-dir", str(tmp_path)]
    printed = CliRunner().invoke(app, [*base, "mcp", "--tools", "--show-key"], catch_exceptions=False)
    entry = json.loads(printed.output)["mcpServers"]["toolmesh-tools"]
    assert entry["url"] == f"{mcp_mesh.url}/api/mcp/tools"
    async with _client(mcp_mesh, entry["headers"], "/api/mcp/tools") as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        # OpenAPI operations and MCP tools alike; nothing that needs a person or a run's wait.
        assert {"evaluateExpression", "createNote", "listNotes", "list_projects"} <= set(tools)
        assert not {"deleteNote", "delete_project", "sendMessage"} & set(tools)
        assert tools["listNotes"].annotations and tools["listNotes"].annotations.read_only_hint
        assert check_tools([{"type": "function", "function": {"name": n, "parameters": t.input_schema}}
                            for n, t in tools.items()]) == []  # fmt: skip
        assert "api_key" not in json.dumps([t.input_schema for t in tools.values()]).lower()

        total = await client.call_tool("evaluateExpression", {"expression": "12 * 49.90"})
        assert not total.is_error and "598.8" in _text(total), total  # the calc key was injected
        projects = await client.call_tool("list_projects", {})
        assert not projects.is_error and "apollo" in _text(projects)  # the MCP server's bearer token too
        note = await client.call_tool("createNote", {"title": "from MCP", "content": "gateway"})
        assert not note.is_error and isinstance(note.structured_content, dict), note

        refused = await client.call_tool("deleteNote", {"note_id": note.structured_content["id"]})
        assert refused.is_error and "needs a person's approval" in _text(refused)
        invalid = await client.call_tool("evaluateExpression", {"expresion": "1"})
        assert invalid.is_error and "invalid arguments" in _text(invalid)
        unknown = await client.call_tool("no_such_tool", {})
        assert unknown.is_error and "no tool named" in _text(unknown)
    assert TOKEN not in str(tools) and mcp_mesh.keys["calc"] not in str(tools)
    seen = httpx.get(f"{projects_server.url}/state").json()["seen_requests"]
    assert any(r["method"] == "tools/call" and r["run_id"] == "mcp-gateway" for r in seen)

    with pytest.raises(Exception):  # noqa: B017 - the SDK wraps the 401 in its own task-group error
        async with _client(mcp_mesh, {}, "/api/mcp/tools") as client:
            await client.list_tools()
    refused_raw = httpx.post(f"{mcp_mesh.url}/api/mcp/tools", json={"jsonrpc": "2.0", "id": 1, "method": "x"})
    assert refused_raw.status_code == 401
