"""A tool call goes where the registry says the tool is at the moment of the call."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_loop import activities
from agent_loop.activities import current_tool
from agent_loop.settings import get_settings
from openapi_engine import ToolInfo

ENTRY = """tools:
  notes:
    spec: {url}/openapi.json
    base_url: {url}
    auth:
      ApiKeyAuth: {setting}
    timeout_seconds: {timeout}
"""


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "specs" / "registry.yaml"
    path.parent.mkdir()
    monkeypatch.setenv("TOOLMESH_REGISTRY", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def _write(path: Path, text: str) -> None:
    path.write_text(text)
    stamp = path.stat().st_mtime_ns + 1_000_000  # a new stamp even within the file system's time grain
    os.utime(path, ns=(stamp, stamp))


SNAPSHOT = ToolInfo(name="notes", base_url="http://127.0.0.1:8101", spec="x", auth={"ApiKeyAuth": "NOTES_API_KEY"})


def test_the_address_key_setting_and_timeout_come_from_the_registry_now(registry: Path) -> None:
    _write(registry, ENTRY.format(url="http://127.0.0.1:8101", setting="NOTES_API_KEY", timeout=15))
    assert current_tool(SNAPSHOT) == dataclasses.replace(SNAPSHOT, timeout_seconds=15)
    _write(registry, ENTRY.format(url="http://127.0.0.1:9101", setting="NOTES_KEY_2", timeout=7))
    moved = current_tool(SNAPSHOT)
    assert moved is not None
    assert moved == dataclasses.replace(
        SNAPSHOT, base_url="http://127.0.0.1:9101", auth={"ApiKeyAuth": "NOTES_KEY_2"}, timeout_seconds=7
    )


def test_a_tool_taken_out_of_the_registry_is_a_result_the_model_reads(registry: Path) -> None:
    _write(registry, "tools: {}\n")
    assert current_tool(SNAPSHOT) is None
    function = {
        "name": "createNote", "tool": "notes", "operation_id": "createNote", "method": "POST", "path": "/notes",
        "description": "", "parameters": {"type": "object", "properties": {}},
    }  # fmt: skip
    payload = {"run_id": "r", "call_id": "c", "function": function, "tool": dataclasses.asdict(SNAPSHOT)}
    activity = activities.invoke_tool._function._func
    outcome = asyncio.run(activity({**payload, "arguments": {}}))
    assert outcome["ok"] is False
    assert outcome["error"] == "the tool 'notes' is no longer registered (removed or disabled); createNote is gone"
