"""Catalog snapshots outside run history: stored once per content, owner-only, read back whole."""

from __future__ import annotations

from pathlib import Path

from agent_loop.catalog_store import CatalogStore
from openapi_engine import Catalog, ToolInfo


def _catalog(base_url: str) -> Catalog:
    return Catalog(tools={"t": ToolInfo(name="t", base_url=base_url, spec="t.json")}, functions=[], problems=[])


def test_the_same_content_is_stored_once_and_read_back_by_any_store(tmp_path: Path) -> None:
    folder = tmp_path / "catalogs"
    store = CatalogStore(folder)
    first = store.put(_catalog("http://a"))
    assert first.startswith("sha256:") and store.put(_catalog("http://a")) == first
    other = store.put(_catalog("http://b"))
    assert other != first
    files = sorted(folder.iterdir())
    assert len(files) == 2 and all(f.stat().st_mode & 0o077 == 0 for f in files)
    assert folder.stat().st_mode & 0o077 == 0
    fresh = CatalogStore(folder)  # another process of the app
    found = fresh.get(first)
    assert found is not None and found.tools["t"].base_url == "http://a"


def test_an_unknown_or_malformed_reference_is_none(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path)
    assert store.get("sha256:" + "0" * 64) is None
    assert store.get("sha256:../../etc/passwd") is None
    assert store.get("md5:abc") is None
