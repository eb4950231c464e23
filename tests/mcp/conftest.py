from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.support.local_mesh import Mesh, start_mesh
from tests.support.servers import REPO_ROOT, RunningServer, free_port, start_uvicorn

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


# A scripted model that lists projects, deletes one (a destructive tool: it waits for a person),
# then calls a function that does not exist (its server is down), then answers.
SCRIPT = [
    {
        "match": {"step": "execute_task", "tool_messages": 0},
        "respond": {"tool_calls": [{"name": "list_projects", "arguments": {"filter": {"status": "archived"}}}]},
    },
    {
        "match": {"step": "execute_task", "tool_messages": 1},
        "respond": {"tool_calls": [{"name": "delete_project", "arguments": {"name": "gemini"}}]},
    },
    {
        "match": {"step": "execute_task", "tool_messages": 2},
        "respond": {"tool_calls": [{"name": "offline_lookup", "arguments": {"city": "Oslo"}}]},
    },
    {"match": {"step": "execute_task", "tool_messages": 3}, "respond": {"content": "gemini is gone"}},
]


# A tool that asks the run's people a question during its call, then finishes with the answer.
INPUT_SCRIPT = [
    {
        "match": {"step": "execute_task", "tool_messages": 0},
        "respond": {"tool_calls": [{"name": "archive_project", "arguments": {"name": "apollo"}}]},
    },
    {"match": {"step": "execute_task", "tool_messages": 1}, "respond": {"content": "apollo is archived"}},
]


# A long-running tool: the server answers with a task, which the run waits for durably.
TASK_SCRIPT = [
    {
        "match": {"step": "execute_task", "tool_messages": 0},
        "respond": {"tool_calls": [{"name": "export_project", "arguments": {"name": "apollo"}}]},
    },
    {"match": {"step": "execute_task", "tool_messages": 1}, "respond": {"content": "apollo is exported"}},
]

# A task that asks the run's people a question before it can finish.
TASK_INPUT_SCRIPT = [
    {
        "match": {"step": "execute_task", "tool_messages": 0},
        "respond": {"tool_calls": [{"name": "restore_project", "arguments": {"name": "gemini"}}]},
    },
    {"match": {"step": "execute_task", "tool_messages": 1}, "respond": {"content": "gemini is restored"}},
]


@pytest.fixture(scope="module")
def mcp_mesh(tmp_path_factory: pytest.TempPathFactory, projects_server: RunningServer) -> Iterator[Mesh]:
    root = tmp_path_factory.mktemp("mcp-mesh")
    registry = yaml.safe_load((REPO_ROOT / "specs" / "registry.yaml").read_text())
    registry["tools"]["projects"] = {
        "kind": "mcp",
        "url": f"{projects_server.url}/mcp",
        "auth": {"bearer": "PROJECTS_MCP_TOKEN"},
        "tags": ["work"],
        "timeout_seconds": 10,
        "approval_overrides": {"archive_project": "never", "restore_project": "never"},
    }
    registry["tools"]["offline"] = {"kind": "mcp", "url": f"http://127.0.0.1:{free_port()}/mcp"}
    registry_path = root / "registry.yaml"
    registry_path.write_text(yaml.safe_dump(registry))
    models: dict[str, Any] = {"default": {"deployments": [{"provider": "offline"}]}}
    for alias, entries in (
        ("mcp", SCRIPT),
        ("mcp-input", INPUT_SCRIPT),
        ("mcp-task", TASK_SCRIPT),
        ("mcp-task-input", TASK_INPUT_SCRIPT),
    ):
        script = root / f"{alias}.yaml"
        script.write_text(yaml.safe_dump({"model": f"scripted-{alias}", "on_no_match": "offline", "entries": entries}))
        models[alias] = {"deployments": [{"provider": "scripted", "script": script.name}]}
    config = root / "gateway.yaml"
    config.write_text(yaml.safe_dump({"models": models}))
    running = start_mesh(
        root,
        gateway_env={"TOOLMESH_GATEWAY_CONFIG": str(config)},
        registry=registry_path,
        host_env={"PROJECTS_MCP_TOKEN": TOKEN},
    )
    try:
        yield running
    finally:
        running.stop()
