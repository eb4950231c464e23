"""Where runs get the tool catalog: the registry and every tool's spec, read through a short-lived snapshot.

A run loads the catalog at its start and again at every ``continue_as_new``, and the memory calls
look up the notes tool's operations for every task. Reading every spec over HTTP for each of
those would put several requests per step on each tool and keep the host's core busy with work
whose answer almost never changes. So the catalog is kept for ``TOOLMESH_CATALOG_TTL`` seconds
(default 5), keyed by the registry file's path and modification time:

- a tool added to or removed from the registry is seen by the next run at once (the file changed);
- a change inside a running tool's spec is seen within the TTL;
- ``POST /api/tools/reload`` and :func:`load_catalog_now` read everything afresh.

One thread rebuilds a stale snapshot while the others wait for it, so hundreds of runs starting
together read each spec once, not hundreds of times.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from mcp_engine import load_mcp_entry
from openapi_engine import (
    Catalog,
    ConversionCache,
    Registry,
    ToolEntry,
    ToolFunction,
    ToolInfo,
    build_catalog,
    load_registry,
)

from .clients import spec_client
from .errors import ConfigError
from .settings import get_settings

__all__ = [
    "CatalogSnapshot",
    "catalog_function",
    "current_catalog",
    "current_catalog_async",
    "load_catalog_now",
    "registry_entry",
]

# Specs whose text did not change are not converted again (see openapi_engine.conversion_cache).
_conversions = ConversionCache()


def load_catalog_now(only: list[str] | None = None, *, reconvert: bool = False) -> Catalog:
    """Read the registry and every spec afresh; a bad tool is a problem, not a failure.

    ``reconvert`` drops the cached conversions first, so even a change the cache cannot see
    (a document an external ``$ref`` points to) is picked up. A whole catalog read here also
    becomes the snapshot runs use.
    """
    stamp = _registry_stamp()
    catalog = _read_catalog(only, reconvert=reconvert)
    if only is None:
        _snapshot.replace(stamp, catalog)
    return catalog


def _read_catalog(only: list[str] | None = None, *, reconvert: bool = False) -> Catalog:
    path = get_settings().registry_path
    if not path.exists():
        raise ConfigError(f"TOOLMESH_REGISTRY: no registry file at {path}")
    registry = load_registry(path)
    if reconvert:
        _conversions.clear()
    return build_catalog(registry, client=spec_client(), only=only, cache=_conversions, loaders={"mcp": load_mcp_entry})


def _registry_stamp() -> str:
    path = get_settings().registry_path
    try:
        return f"{path}:{path.stat().st_mtime_ns}"
    except FileNotFoundError:
        return f"{path}:missing"


class CatalogSnapshot:
    """The last catalog read, reused while its registry stamp holds and it is younger than the TTL."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entry: tuple[str, float, Catalog] | None = None

    def fresh(self, stamp: str, ttl: float) -> Catalog | None:
        entry = self._entry
        if entry is not None and entry[0] == stamp and self._clock() - entry[1] < ttl:
            return entry[2]
        return None

    def get(self, stamp: str, ttl: float, read: Callable[[], Catalog]) -> Catalog:
        """The fresh snapshot, or one rebuilt by ``read`` (by one caller at a time)."""
        found = self.fresh(stamp, ttl)
        if found is not None:
            return found
        with self._lock:
            found = self.fresh(stamp, ttl)  # another thread may have rebuilt it meanwhile
            if found is None:
                found = read()
                self._entry = (stamp, self._clock(), found)
            return found

    def replace(self, stamp: str, catalog: Catalog) -> None:
        self._entry = (stamp, self._clock(), catalog)


_snapshot = CatalogSnapshot()


def current_catalog() -> Catalog:
    """The whole catalog as runs see it now (blocking: call it off the event loop when stale)."""
    return _snapshot.get(_registry_stamp(), get_settings().catalog_ttl_seconds, _read_catalog)


async def current_catalog_async() -> Catalog:
    """:func:`current_catalog` for coroutines: a fresh snapshot at once, a rebuild on a thread."""
    found = _snapshot.fresh(_registry_stamp(), get_settings().catalog_ttl_seconds)
    return found if found is not None else await asyncio.to_thread(current_catalog)


async def catalog_function(tool_name: str, operation_id: str) -> tuple[ToolFunction, ToolInfo] | None:
    """A registered tool's operation, for calls the app makes itself (memory, mailbox replies)."""
    catalog = await current_catalog_async()
    tool = catalog.tools.get(tool_name)
    if tool is None:
        return None
    for function in catalog.functions:
        if function.tool == tool.name and function.operation_id == operation_id:
            return function, tool
    return None


_registry: tuple[str, Registry] | None = None


def registry_entry(tool_name: str) -> ToolEntry | None:
    """The registry's entry for a tool as the file says now (None: not registered, or disabled).

    Calls use it to reach a tool where it is now, not where it was when their run's catalog was
    read. Only the file is read (again when it changed), never a spec, so this works while the
    tool itself is away.
    """
    global _registry
    stamp = _registry_stamp()
    cached = _registry
    if cached is None or cached[0] != stamp:
        path = get_settings().registry_path
        if not path.exists():
            raise ConfigError(f"TOOLMESH_REGISTRY: no registry file at {path}")
        cached = _registry = (stamp, load_registry(path))
    entry = cached[1].tools.get(tool_name)
    return entry if entry is not None and entry.enabled else None
