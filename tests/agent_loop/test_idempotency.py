"""A tool call repeated by a retried activity (after a crash) acts once: the key comes from run and call ids."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent_loop import activities
from agent_loop.settings import get_settings
from openapi_engine import build_catalog, load_registry
from tests.support.servers import REPO_ROOT, RunningServer, start_uvicorn


@pytest.fixture(scope="module")
def notes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("notes")
    server = start_uvicorn(
        "tools.notes.main:app",
        log_path=root / "notes.log",
        env={"NOTES_API_KEY": "k", "NOTES_DB": str(root / "notes.sqlite3")},
    )
    try:
        yield server
    finally:
        server.stop()


def test_a_retried_create_makes_one_note(notes: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTES_URL", notes.url)
    monkeypatch.setenv("NOTES_API_KEY", "k")
    get_settings.cache_clear()
    catalog = build_catalog(load_registry(Path(REPO_ROOT / "specs" / "registry.yaml")), only=["notes"])
    function = next(f for f in catalog.functions if f.operation_id == "createNote")
    tool = catalog.tools["notes"]

    async def attempt() -> str:
        result = await activities.invoke_with_retries(
            function,
            tool,
            {"title": "once", "content": "only once", "run_id": "run-9"},
            run_id="run-9",
            call_id="c1-0-0",
            max_attempts=1,
        )
        assert result.ok, result
        return result.body

    first, second = asyncio.run(attempt()), asyncio.run(attempt())
    assert first == second
    listed = httpx.get(f"{notes.url}/notes", params={"run_id": "run-9"}, headers={"X-API-Key": "k"}).json()
    assert len(listed["items"]) == 1
    assert activities.idempotency_key("run-9", "c1-0-0") != activities.idempotency_key("run-9", "c1-0-1")
    assert activities.idempotency_key("run-9", "c1-0-0") != activities.idempotency_key("run-8", "c1-0-0")
