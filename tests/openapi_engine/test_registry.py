"""The registry validates every entry, and the catalog isolates failing tools."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from openapi_engine import Catalog, RegistryError, build_catalog, load_registry
from tests.openapi_engine.conftest import FIXTURES
from tests.support.servers import REPO_ROOT, RunningServer

REGISTRY = FIXTURES / "registry" / "registry.yaml"
ENV: dict[str, str] = {}


def write(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "specs"
    folder.mkdir(exist_ok=True)
    path = folder / "registry.yaml"
    path.write_text(text)
    return path


def test_registry_loads_with_env_defaults_and_relative_paths() -> None:
    registry = load_registry(REGISTRY, environ=ENV)
    echo = registry.tools["echo"]
    assert echo.base_url == "http://127.0.0.1:8199"
    assert echo.spec == str(FIXTURES / "echo.yaml")
    assert echo.auth == {"ApiKeyAuth": "ECHO_API_KEY"}
    assert echo.include.methods == ["get", "put", "delete", "post"]
    assert echo.timeout_seconds == 12
    assert [t.name for t in registry.enabled()] == ["echo", "petstore"]


def test_registry_env_value_overrides_default() -> None:
    registry = load_registry(REGISTRY, environ={**ENV, "ECHO_URL": "http://10.0.0.5:9000/"})
    assert registry.tools["echo"].base_url == "http://10.0.0.5:9000"


def test_registry_reports_every_bad_entry_with_tool_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
tools:
  Bad Name: {spec: a.yaml, base_url: http://x}
  nourl: {spec: a.yaml, base_url: ftp://x}
  typo: {spec: a.yaml, base_url: http://x, aproval: never}
  policy: {spec: a.yaml, base_url: http://x, approval: sometimes}
  envless: {spec: a.yaml, base_url: "${MISSING_URL}"}
  timeout: {spec: a.yaml, base_url: http://x, timeout_seconds: -1}
  good: {spec: a.yaml, base_url: http://x}
""",
    )
    with pytest.raises(RegistryError) as caught:
        load_registry(path, environ={})
    problems = caught.value.problems
    text = "\n".join(problems)
    assert "tool 'Bad Name': name must match" in text
    assert "tool 'nourl': field base_url" in text
    assert "tool 'typo': field aproval" in text
    assert "tool 'policy': field approval" in text
    assert "tool 'envless': environment variable MISSING_URL is not set" in text
    assert "tool 'timeout': field timeout_seconds" in text
    assert "good" not in text
    assert len(problems) >= 6


def test_registry_rejects_wrong_shape_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="'tools' mapping"):
        load_registry(write(tmp_path, "- a list\n"))
    with pytest.raises(RegistryError, match="invalid YAML"):
        load_registry(write(tmp_path, "tools: {a: [\n"))
    with pytest.raises(RegistryError, match="cannot read file"):
        load_registry(tmp_path / "missing.yaml")


def test_catalog_applies_filters_policies_and_round_trips_json() -> None:
    registry = load_registry(REGISTRY, environ=ENV)
    catalog = build_catalog(registry)
    assert set(catalog.tools) == {"echo", "petstore"}
    echo_names = catalog.tools["echo"].functions
    assert "slow" not in echo_names and "queryStyles" in echo_names
    assert catalog.function("updateNote").needs_approval is False  # type: ignore[union-attr]
    assert catalog.function("postText").needs_approval is True  # type: ignore[union-attr]
    assert catalog.function("queryStyles").needs_approval is False  # type: ignore[union-attr]
    assert catalog.function("createTree").needs_approval is True  # type: ignore[union-attr]
    store = [fn for fn in catalog.functions if fn.tool == "petstore"]
    assert {fn.operation_id for fn in store} == {"getInventory", "placeOrder", "getOrderById", "deleteOrder"}
    assert all(fn.needs_approval for fn in store)
    assert catalog.tools["echo"].auth == {"ApiKeyAuth": "ECHO_API_KEY"}
    assert catalog.tools["echo"].size_chars == sum(fn.size_chars for fn in catalog.functions if fn.tool == "echo")
    again = Catalog.from_dict(json.loads(json.dumps(catalog.to_dict())))
    assert again == catalog


def test_catalog_keeps_other_tools_when_one_spec_fails(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{nope")
    path = write(
        tmp_path,
        f"""
tools:
  broken: {{spec: broken.json, base_url: http://127.0.0.1:1}}
  echo: {{spec: {FIXTURES / "echo.yaml"}, base_url: http://127.0.0.1:2}}
""",
    )
    catalog = build_catalog(load_registry(path, environ={}))
    assert set(catalog.tools) == {"echo"}
    (problem,) = [p for p in catalog.problems if p.tool == "broken"]
    assert problem.operation is None and "invalid JSON" in problem.reason and "broken.json" in problem.reason


def test_catalog_names_are_unique_across_tools_with_prefixes(tmp_path: Path) -> None:
    spec = FIXTURES / "echo.yaml"
    path = write(
        tmp_path,
        f"""
tools:
  alpha: {{spec: {spec}, base_url: http://127.0.0.1:2, include: {{operations: [publicGet, getStatus]}}}}
  beta: {{spec: {spec}, base_url: http://127.0.0.1:3, include: {{operations: [publicGet]}}}}
""",
    )
    catalog = build_catalog(load_registry(path, environ={}))
    assert sorted(fn.name for fn in catalog.functions) == ["alpha_publicGet", "beta_publicGet", "getStatus"]
    only = build_catalog(load_registry(path, environ={}), only=["beta", "gamma"])
    assert [fn.name for fn in only.functions] == ["publicGet"]
    assert [p.reason for p in only.problems] == ["not in the registry"]


def test_catalog_loads_spec_from_running_service(tmp_path: Path, echo_server: RunningServer) -> None:
    path = write(
        tmp_path,
        """
tools:
  live: {spec: "{base_url}/openapi.json", base_url: "${LIVE_URL}", include: {operations: [pathRaw]}}
""",
    )
    registry = load_registry(path, environ={"LIVE_URL": echo_server.url})
    assert registry.tools["live"].spec == f"{echo_server.url}/openapi.json"
    with httpx.Client() as client:
        catalog = build_catalog(registry, client=client)
    assert [fn.name for fn in catalog.functions] == ["pathRaw"]
    assert catalog.tools["live"].base_url == echo_server.url


def test_project_registry_file_is_valid() -> None:
    registry = load_registry(REPO_ROOT / "specs" / "registry.yaml", environ={})
    assert registry.tools, "specs/registry.yaml lists no tools"
    for entry in registry.tools.values():
        assert entry.base_url.startswith("http")
        assert all(setting.isidentifier() for setting in entry.auth.values())
