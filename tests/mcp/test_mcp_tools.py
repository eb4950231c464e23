"""MCP servers as tools: listing, conversion and calls against a real server built with the official SDK."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from mcp_engine import invoke_mcp, load_mcp_entry
from openapi_engine import Catalog, Registry, SpecLoadError, ToolFunction, build_catalog, check_tools
from openapi_engine.registry import parse_registry
from tests.mcp.conftest import TOKEN
from tests.support.servers import RunningServer, free_port


def _registry(url: str, **extra: object) -> Registry:
    entry = {"kind": "mcp", "url": url, "auth": {"bearer": "PROJECTS_MCP_TOKEN"}, "tags": ["work"], **extra}
    return parse_registry({"tools": {"projects": entry}}, source="test", base_dir=Path("."), environ={})


def _catalog(server: RunningServer, monkeypatch: pytest.MonkeyPatch, **extra: object) -> Catalog:
    monkeypatch.setenv("PROJECTS_MCP_TOKEN", TOKEN)
    return build_catalog(_registry(f"{server.url}/mcp", **extra), loaders={"mcp": load_mcp_entry})


def _function(catalog: Catalog, name: str) -> ToolFunction:
    found = catalog.function(name)
    assert found is not None, [f.name for f in catalog.functions]
    return found


def test_an_mcp_server_contributes_its_tools_with_annotations_and_strict_schemas(
    projects_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = _catalog(projects_server, monkeypatch)
    assert catalog.problems == []
    names = sorted(f.name for f in catalog.functions)
    assert names == [
        "archive_project",
        "delete_project",
        "export_project",
        "garbled",
        "list_projects",
        "project_report",
        "restore_project",
    ]
    listing = _function(catalog, "list_projects")
    assert listing.needs_approval is False  # read-only
    assert _function(catalog, "delete_project").needs_approval is True  # destructive
    assert listing.description.startswith("List projects")
    # The nested model arrived as $defs/$ref and was inlined and made strict like an OpenAPI body.
    assert listing.strict_parameters is not None, listing.strict_reason
    assert "$ref" not in json.dumps(listing.parameters)
    tools = [f.openai_tool(strict=True) for f in catalog.functions]
    assert check_tools(tools) == []
    assert all(f.strict_parameters is not None for f in catalog.functions)
    # The catalog names the setting, never its value.
    assert TOKEN not in json.dumps(catalog.to_dict())
    assert catalog.tools["projects"].auth == {"bearer": "PROJECTS_MCP_TOKEN"}


def test_include_exclude_and_overrides_apply_to_mcp_tools(
    projects_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = _catalog(
        projects_server,
        monkeypatch,
        exclude={"operations": ["garbled", "project_report", "archive_project", "export_project", "restore_project"]},
        approval_overrides={"list_projects": "always"},
    )
    assert sorted(f.name for f in catalog.functions) == ["delete_project", "list_projects"]
    assert _function(catalog, "list_projects").needs_approval is True
    assert _function(catalog, "list_projects").approval_required is True  # a run cannot waive the registry
    assert _function(catalog, "delete_project").approval_required is False  # the default policy, not a demand
    never = _catalog(projects_server, monkeypatch, approval="never")
    assert not any(f.needs_approval for f in never.functions)


def test_a_server_that_is_down_fails_its_entry_alone_with_the_reason(
    projects_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROJECTS_MCP_TOKEN", TOKEN)
    data = {
        "tools": {
            "projects": {"kind": "mcp", "url": f"{projects_server.url}/mcp", "auth": {"bearer": "PROJECTS_MCP_TOKEN"}},
            "gone": {"kind": "mcp", "url": f"http://127.0.0.1:{free_port()}/mcp"},
        }
    }
    registry = parse_registry(data, source="test", base_dir=Path("."), environ={})
    catalog = build_catalog(registry, loaders={"mcp": load_mcp_entry})
    assert {f.tool for f in catalog.functions} == {"projects"}
    assert [p.tool for p in catalog.problems] == ["gone"]
    assert "could not reach the MCP server" in catalog.problems[0].reason


def test_a_wrong_token_is_a_clear_load_problem(projects_server: RunningServer) -> None:
    entry = _registry(f"{projects_server.url}/mcp").tools["projects"]
    with pytest.raises(SpecLoadError, match="HTTP 401"):
        load_mcp_entry(entry, {"PROJECTS_MCP_TOKEN": "wrong"})
    with pytest.raises(SpecLoadError, match="PROJECTS_MCP_TOKEN"):
        load_mcp_entry(entry, {})


def test_registry_checks_mcp_entries() -> None:
    from openapi_engine import RegistryError

    with pytest.raises(RegistryError) as caught:
        parse_registry(
            {"tools": {"a": {"kind": "mcp", "spec": "x.json", "url": "http://h/mcp"}, "b": {"kind": "mcp"}}},
            source="t",
            base_dir=Path("."),
            environ={},
        )
    text = str(caught.value)
    assert "'a'" in text and "not spec" in text and "'b'" in text and "needs url" in text


async def test_calls_give_bounded_results_and_readable_errors(
    projects_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = _catalog(projects_server, monkeypatch)
    url = f"{projects_server.url}/mcp"
    settings = {"PROJECTS_MCP_TOKEN": TOKEN}
    ok = await invoke_mcp(
        _function(catalog, "list_projects"), {"filter": {"status": "active"}}, url=url, settings=settings
    )
    assert ok.ok and ok.content_type == "application/json", ok
    assert json.loads(ok.body) == {"projects": [{"name": "apollo", "status": "active"}]}
    long = await invoke_mcp(_function(catalog, "project_report"), {"name": "apollo"}, url=url, settings=settings)
    assert long.ok and long.truncated and "truncated" in long.body and len(long.body) < 9000
    failed = await invoke_mcp(_function(catalog, "delete_project"), {"name": "nope"}, url=url, settings=settings)
    assert not failed.ok and failed.error == "the MCP tool reported an error" and not failed.retryable
    bad_args = await invoke_mcp(_function(catalog, "delete_project"), {"nom": "x"}, url=url, settings=settings)
    assert not bad_args.ok and "invalid arguments" in (bad_args.error or "") and "name" in (bad_args.error or "")
    garbled = await invoke_mcp(_function(catalog, "garbled"), {"name": "x"}, url=url, settings=settings)
    assert not garbled.ok and garbled.error == "the MCP server's answer is not a valid tool result", garbled
    down = await invoke_mcp(
        _function(catalog, "list_projects"), {}, url=f"http://127.0.0.1:{free_port()}/mcp", settings=settings
    )
    assert not down.ok and down.retryable and "could not reach the MCP server" in (down.error or "")
    refused = await invoke_mcp(_function(catalog, "list_projects"), {}, url=url, settings={"PROJECTS_MCP_TOKEN": "x"})
    assert not refused.ok and refused.status == 401
    unset = await invoke_mcp(_function(catalog, "list_projects"), {}, url=url, settings={})
    assert not unset.ok and "PROJECTS_MCP_TOKEN" in (unset.error or "")
    for result in (ok, long, failed, bad_args, garbled, down, refused, unset):
        assert TOKEN not in json.dumps(result.to_dict())
    state = httpx.get(f"{projects_server.url}/state").json()
    assert {"authorization": f"Bearer {TOKEN}"} in state["seen_headers"]
    scoped = await invoke_mcp(_function(catalog, "list_projects"), {}, url=url, settings=settings, run_id="run-9")
    assert scoped.ok, scoped
    state = httpx.get(f"{projects_server.url}/state").json()
    assert {"authorization": f"Bearer {TOKEN}", "x-toolmesh-run-id": "run-9"} in state["seen_headers"]
