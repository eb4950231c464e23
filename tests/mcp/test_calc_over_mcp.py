"""The calc service serves its operations over MCP too: the default mesh's own MCP server."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from mcp_engine import invoke_mcp, load_mcp_entry
from openapi_engine import check_tools
from openapi_engine.registry import parse_registry
from tests.support.servers import REPO_ROOT, RunningServer, start_uvicorn

KEY = "calc-mcp-test-key"


@pytest.fixture(scope="module")
def calc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("calc-mcp")
    server = start_uvicorn(
        "tools.calc.main:app",
        log_path=root / "calc.log",
        env={"CALC_API_KEY": KEY, "CALC_DB": str(root / "calc.sqlite3")},
    )
    try:
        yield server
    finally:
        server.stop()


def test_the_registrys_calc_mcp_entry_reads_and_calls_the_service(calc: RunningServer) -> None:
    raw = yaml.safe_load((REPO_ROOT / "specs" / "registry.yaml").read_text())
    environ = {"CALC_URL": calc.url, "CALC_API_KEY": KEY}
    registry = parse_registry(raw, source="registry.yaml", base_dir=REPO_ROOT, environ=environ)
    entry = registry.tools["calc_mcp"]
    assert entry.kind == "mcp" and not entry.enabled  # opt-in: the REST entry offers the same operations
    converted = load_mcp_entry(dataclasses.replace(entry, enabled=True), environ)
    functions = {f.name: f for f in converted.functions}
    assert set(functions) == {"calculate", "convert_units"}
    assert not any(f.needs_approval for f in functions.values())  # annotated read-only
    assert check_tools([f.openai_tool(strict=True) for f in functions.values()]) == []
    assert all(f.strict_parameters is not None for f in functions.values())


async def test_calls_over_mcp_give_the_same_answers_as_rest(calc: RunningServer) -> None:
    raw = yaml.safe_load((REPO_ROOT / "specs" / "registry.yaml").read_text())
    environ = {"CALC_URL": calc.url, "CALC_API_KEY": KEY}
    entry = parse_registry(raw, source="r", base_dir=REPO_ROOT, environ=environ).tools["calc_mcp"]
    functions = {f.name: f for f in load_mcp_entry(entry, environ).functions}
    url = f"{calc.url}/mcp"
    total = await invoke_mcp(functions["calculate"], {"expression": "12 * 49.90"}, url=url, settings=environ)
    assert total.ok and json.loads(total.body)["result"] == "598.8", total
    miles = await invoke_mcp(
        functions["convert_units"], {"value": "10", "from_unit": "mile", "to_unit": "km"}, url=url, settings=environ
    )
    assert miles.ok and json.loads(miles.body)["result"] == "16.09344", miles
    rest = httpx.post(f"{calc.url}/evaluate", json={"expression": "12 * 49.90"}, headers={"X-API-Key": KEY})
    assert rest.json()["result"] == json.loads(total.body)["result"]
    wrong = await invoke_mcp(functions["calculate"], {"expression": "2 +* 3"}, url=url, settings=environ)
    assert not wrong.ok and "position" in wrong.body, wrong


def test_the_mcp_route_needs_the_key_and_stays_out_of_the_spec(calc: RunningServer, tmp_path: Path) -> None:
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    refused = httpx.post(f"{calc.url}/mcp", json=message, headers={"accept": "application/json, text/event-stream"})
    assert refused.status_code == 401
    assert "/mcp" not in httpx.get(f"{calc.url}/openapi.json").json()["paths"]
